//! Stories of `GET /whoami`: a site's app and an admin's both ask the server who their token
//! belongs to ("Connected to Acme · Store 12"), whatever scopes it carries.

use kendrix_server::RequestContext;
use kendrix_tests::{on_both_backends, Backend, TestServer};
use serde_json::{json, Value};

on_both_backends!(
    a_site_and_an_admin_each_learn_who_they_are,
    without_a_valid_token_the_server_says_nothing,
);

async fn a_site_and_an_admin_each_learn_who_they_are(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = server.tenant("Acme").await;
    let store12 = server
        .register(acme, "Store 12", "sync:write config:read")
        .await;
    let maria = server
        .register(
            acme,
            "HQ: Maria",
            "clients:admin config:read config:write audit:read stats:read",
        )
        .await;
    // A token with one narrow scope still knows who it is.
    let reader = server.register(acme, "Dashboard", "audit:read").await;

    let site_token = server.access_token(&store12).await;
    let response = server.get_as(&site_token, "/whoami").await;
    assert_eq!(response.status(), 200);
    let me: Value = response.json().await.unwrap();
    assert_eq!(
        me,
        json!({"client_id": store12.client_id, "name": "Store 12", "tenant_id": acme,
               "tenant_name": "Acme", "scopes": "sync:write config:read", "role": "site"})
    );

    let admin_token = server.access_token(&maria).await;
    let admin: Value = server
        .get_as(&admin_token, "/whoami")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(admin["client_id"], maria.client_id.as_str());
    assert_eq!(admin["name"], "HQ: Maria");
    assert_eq!(admin["tenant_name"], "Acme");
    assert_eq!(admin["role"], "admin");
    assert!(admin["scopes"]
        .as_str()
        .unwrap()
        .split(' ')
        .any(|s| s == "clients:admin"));

    let reader_token = server.access_token(&reader).await;
    let narrow = server.get_as(&reader_token, "/whoami").await;
    assert_eq!(narrow.status(), 200);
    let narrow: Value = narrow.json().await.unwrap();
    assert_eq!(
        (narrow["role"].clone(), narrow["scopes"].clone()),
        (json!("site"), json!("audit:read"))
    );

    // Another tenant's site learns its own tenant, nothing of Acme's.
    let globex = server.tenant("Globex").await;
    let other = server.register(globex, "Depot", "sync:write").await;
    let other_token = server.access_token(&other).await;
    let theirs: Value = server
        .get_as(&other_token, "/whoami")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (theirs["tenant_id"].as_i64(), theirs["tenant_name"].as_str()),
        (Some(globex), Some("Globex"))
    );
}

async fn without_a_valid_token_the_server_says_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let acme = server.tenant("Acme").await;
    let store12 = server.register(acme, "Store 12", "sync:write").await;

    let anonymous = server
        .http
        .get(server.endpoint("/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.headers()["content-type"],
        "application/problem+json"
    );
    assert!(anonymous.headers().contains_key("www-authenticate"));

    let unknown = server.get_as("not-a-token", "/whoami").await;
    assert_eq!(unknown.status(), 401);

    // A revoked site's token stops working here too.
    let token = server.access_token(&store12).await;
    assert_eq!(server.get_as(&token, "/whoami").await.status(), 200);
    server
        .sites
        .revoke_client(&RequestContext::cli(), &store12.client_id)
        .await
        .expect("revoke");
    let revoked = server.get_as(&token, "/whoami").await;
    assert_eq!(revoked.status(), 401);
    let body: Value = revoked.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("revoked"));
}
