//! The demo as someone trying Kendrix meets it: the real `kendrix-server serve --demo`
//! prints a site's enrollment and an admin's, each on its own labelled line, the site's
//! first; the site credential cannot administer, the admin's can, and the admin's fleet shows
//! the Demo site beside "Store 7" and a "Warehouse" that needs attention. Started again on
//! the same database, it replaces its credentials rather than piling up duplicates.

use kendrix_core::enrollment::Enrollment;
use kendrix_tests::{on_both_backends, Backend, ServerProcess, TestDb};
use serde_json::Value;

on_both_backends!(the_demo_shows_a_site_and_an_admin_with_a_fleet_to_look_after);

const SITE_LINE: &str = "Demo site enrollment: ";
const ADMIN_LINE: &str = "Demo admin enrollment: ";

/// The enrollment strings of the two labelled lines, and the line numbers they are on.
fn enrollments(banner: &[String]) -> ((usize, Enrollment), (usize, Enrollment)) {
    let find = |label: &str| {
        let (at, line) = banner
            .iter()
            .enumerate()
            .find(|(_, l)| l.starts_with(label))
            .unwrap_or_else(|| panic!("no line starting {label:?} in {banner:#?}"));
        let text = &line[label.len()..];
        assert!(text.starts_with("kendrix1:"), "{line}");
        (
            at,
            Enrollment::decode(text).expect("a valid enrollment string"),
        )
    };
    (find(SITE_LINE), find(ADMIN_LINE))
}

async fn token(http: &reqwest::Client, url: &str, who: &Enrollment) -> String {
    let response = http
        .post(format!("{url}/oauth/token"))
        .basic_auth(&who.client_id, Some(&who.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{} signs in", who.client_id);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn get(http: &reqwest::Client, url: &str, token: &str, path: &str) -> reqwest::Response {
    http.get(format!("{url}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn scopes(who: &Value) -> Vec<String> {
    who["scopes"]
        .as_str()
        .unwrap()
        .split(' ')
        .map(str::to_owned)
        .collect()
}

async fn the_demo_shows_a_site_and_an_admin_with_a_fleet_to_look_after(backend: Backend) {
    let db = TestDb::new(backend).await;
    let http = reqwest::Client::new();
    let server = ServerProcess::start_with_args(&db.url, &["--demo"], &[]);
    let ((site_at, site), (admin_at, admin)) = enrollments(&server.banner);
    assert!(site_at < admin_at, "the site's line comes first");
    let first_enrollment = server
        .banner
        .iter()
        .find_map(|l| l.find("kendrix1:").map(|i| &l[i..]))
        .unwrap();
    assert_eq!(
        Enrollment::decode(first_enrollment).unwrap().client_id,
        site.client_id,
        "the first kendrix1: on the output (what scripts/run.sh enrolls) is the site's"
    );
    assert_eq!(site.server, server.url);
    assert_eq!(admin.server, server.url);

    // The site syncs and reads its configuration; it cannot administer.
    let site_token = token(&http, &server.url, &site).await;
    let me: Value = get(&http, &server.url, &site_token, "/whoami")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str()),
        (Some("Demo site"), Some("site"))
    );
    assert_eq!(me["tenant_name"], "Demo");
    assert_eq!(scopes(&me), ["sync:write", "config:read"]);
    assert_eq!(
        get(&http, &server.url, &site_token, "/admin/sites")
            .await
            .status(),
        403
    );

    // The admin can.
    let admin_token = token(&http, &server.url, &admin).await;
    let boss: Value = get(&http, &server.url, &admin_token, "/whoami")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (boss["name"].as_str(), boss["role"].as_str()),
        (Some("Demo admin"), Some("admin"))
    );
    for scope in [
        "clients:admin",
        "config:read",
        "config:write",
        "audit:read",
        "stats:read",
    ] {
        assert!(scopes(&boss).iter().any(|s| s == scope), "{scope}: {boss}");
    }
    let fleet = sites(&http, &server.url, &admin_token).await;
    let names: Vec<&str> = fleet.iter().map(|s| s["name"].as_str().unwrap()).collect();
    for name in ["Demo site", "Store 7", "Warehouse"] {
        assert_eq!(
            names.iter().filter(|n| **n == name).count(),
            1,
            "{name} once in {names:?}"
        );
    }
    assert!(!names.contains(&"Demo admin"), "the admin is not a site");
    let warehouse = by_name(&fleet, "Warehouse");
    let reasons: Vec<&str> = warehouse["needs_attention"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.starts_with("overdue")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("waiting to be sent")),
        "{reasons:?}"
    );
    assert!(warehouse["queue_depth"].as_i64().unwrap() > 100);
    let store7 = by_name(&fleet, "Store 7");
    assert_eq!(
        store7["needs_attention"],
        serde_json::json!([]),
        "Store 7 is all synced"
    );
    assert_eq!(store7["queue_depth"], 0);
    assert_eq!(
        fleet[0]["needs_attention"].as_array().map(Vec::is_empty),
        Some(false)
    );
    let log = server.stop();
    assert!(!log.contains(&site.client_secret) && !log.contains(&admin.client_secret));

    // Again on the same database: fresh credentials, the old ones revoked, no duplicates.
    let again = ServerProcess::start_with_args(&db.url, &["--demo"], &[]);
    let ((_, site2), (_, admin2)) = enrollments(&again.banner);
    assert_ne!(site2.client_id, site.client_id);
    assert_ne!(admin2.client_id, admin.client_id);
    let old = http
        .post(format!("{}/oauth/token", again.url))
        .basic_auth(&site.client_id, Some(&site.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401, "the earlier demo site is revoked");
    let admin2_token = token(&http, &again.url, &admin2).await;
    let fleet = sites(&http, &again.url, &admin2_token).await;
    let active = |name: &str| {
        fleet
            .iter()
            .filter(|s| s["name"] == name && s["status"] == "active")
            .count()
    };
    for name in ["Demo site", "Store 7", "Warehouse"] {
        assert_eq!(active(name), 1, "{name}: one active after a restart");
    }
    assert!(!by_name(&fleet, "Warehouse")["needs_attention"]
        .as_array()
        .unwrap()
        .is_empty());
}

async fn sites(http: &reqwest::Client, url: &str, admin_token: &str) -> Vec<Value> {
    let response = get(http, url, admin_token, "/admin/sites").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["sites"].as_array().unwrap().clone()
}

/// The active site of this name.
fn by_name<'a>(fleet: &'a [Value], name: &str) -> &'a Value {
    fleet
        .iter()
        .find(|s| s["name"] == name && s["status"] == "active")
        .unwrap_or_else(|| panic!("no active {name} in {fleet:#?}"))
}
