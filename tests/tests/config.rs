//! Stories of central configuration: admins change settings as new versions, sites read
//! their effective configuration in the format their software reads, secrets stay sealed,
//! and no tenant sees another's. Each story runs on SQLite and on PostgreSQL.

use std::sync::Arc;

use kendrix_core::config::ConfigValue;
use kendrix_core::SystemClock;
use kendrix_server::services::configurations::{ChangedBy, Scope, GLOBAL};
use kendrix_server::services::sites::Registration;
use kendrix_server::Settings;
use kendrix_tests::{on_both_backends, server_cli, Backend, TestServer};
use serde_json::{json, Value};

on_both_backends!(
    a_site_reads_its_effective_configuration_as_json_xml_and_ini,
    secrets_are_sealed_at_rest_and_revealed_only_where_allowed,
    every_change_is_a_version_with_history_diff_and_rollback,
    a_tenant_never_sees_or_changes_another_tenants_configuration,
    drift_lists_sites_not_on_their_current_configuration,
    bad_configuration_input_is_refused_and_changes_nothing,
    an_admin_dry_runs_a_change_then_makes_it_with_a_comment,
    with_comments_required_a_change_without_one_is_refused_and_changes_nothing,
    a_dry_run_of_a_rollback_shows_the_way_back_to_the_old_version,
    operators_dry_run_changes_from_the_command_line,
);

struct Setup {
    server: TestServer,
    tenant: i64,
    site: Registration,
    site_token: String,
    admin_token: String,
}

async fn setup(backend: Backend) -> Setup {
    setup_with(backend, |_| {}).await
}

async fn setup_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Setup {
    let server = TestServer::start_with(backend, adjust, Arc::new(SystemClock)).await;
    let tenant = server.tenant("Acme").await;
    let site = server
        .register(tenant, "Site 12", "sync:write config:read")
        .await;
    let admin = server
        .register(tenant, "Acme admin", "config:read config:write")
        .await;
    let site_token = server.access_token(&site).await;
    let admin_token = server.access_token(&admin).await;
    Setup {
        server,
        tenant,
        site,
        site_token,
        admin_token,
    }
}

async fn put(s: &Setup, token: &str, body: Value) -> reqwest::Response {
    s.server
        .http
        .put(s.server.endpoint("/config/entries"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get(s: &Setup, token: &str, path: &str) -> reqwest::Response {
    s.server.get_as(token, path).await
}

/// A change as the admin sends it: `PUT /config/entries` or `POST /config/rollback` with a
/// JSON body, `DELETE /config/entries` with its query; `path` carries any `?dry_run=true`.
async fn change(
    s: &Setup,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let request = s
        .server
        .http
        .request(method, s.server.endpoint(path))
        .bearer_auth(&s.admin_token);
    match body {
        Some(body) => request.json(&body),
        None => request,
    }
    .send()
    .await
    .unwrap()
}

/// The global configuration, set as operators do from the command line.
async fn set_global(s: &Setup, key: &str, value: ConfigValue) {
    let by = ChangedBy {
        ctx: kendrix_server::RequestContext::cli(),
        author: "ops",
        comment: "base settings",
        client_id: None,
    };
    s.server
        .app
        .configurations
        .set(GLOBAL, &Scope::Global, key, value, false, false, &by)
        .await
        .unwrap();
}

/// What an admin can see was written: the version list and the whole audit log.
async fn history_and_audit(s: &Setup) -> (Value, Vec<String>) {
    let versions: Value = get(s, &s.admin_token, "/config/versions")
        .await
        .json()
        .await
        .unwrap();
    let audit = s.server.audit().await.into_iter().map(|e| e.hash).collect();
    (versions, audit)
}

fn ini_of(text: &str) -> ini::Ini {
    ini::Ini::load_from_str_opt(
        text,
        ini::ParseOption {
            enabled_quote: true,
            enabled_escape: true,
            ..Default::default()
        },
    )
    .unwrap()
}

fn xml_value(xml: &str, key: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let found = doc
        .descendants()
        .find(|n| n.attribute("key") == Some(key))?;
    found.attribute("value").map(str::to_owned)
}

async fn a_site_reads_its_effective_configuration_as_json_xml_and_ini(backend: Backend) {
    let s = setup(backend).await;
    // The global configuration is the operators', set from the command line.
    let by = ChangedBy {
        ctx: kendrix_server::RequestContext::cli(),
        author: "ops",
        comment: "",
        client_id: None,
    };
    for (key, value) in [("sync.batch_size", 500), ("sync.interval", 300)] {
        s.server
            .app
            .configurations
            .set(
                GLOBAL,
                &Scope::Global,
                key,
                ConfigValue::Number(value.into()),
                false,
                false,
                &by,
            )
            .await
            .unwrap();
    }
    assert_eq!(
        put(
            &s,
            &s.admin_token,
            json!({"scope": "tenant", "key": "sync.batch_size", "value": 1000})
        )
        .await
        .status(),
        200
    );
    let awkward = "<a href=\"x\">&'=;#\n\ttail  ";
    assert_eq!(put(&s, &s.admin_token, json!({"scope": format!("client:{}", s.site.client_id), "key": "site.note", "value": awkward})).await.status(), 200);

    let response = get(&s, &s.site_token, "/config").await;
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(response.headers()["x-config-version"], "2.2");
    let config: Value = response.json().await.unwrap();
    assert_eq!(
        config,
        json!({"site.note": awkward, "sync.batch_size": 1000, "sync.interval": 300}),
        "the most specific scope wins"
    );

    let xml = get(&s, &s.site_token, "/config?format=xml")
        .await
        .text()
        .await
        .unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let note = doc
        .descendants()
        .find(|n| n.attribute("key") == Some("site.note"))
        .unwrap();
    assert_eq!(note.attribute("value"), Some(awkward));
    let ini_text = get(&s, &s.site_token, "/config?format=ini")
        .await
        .text()
        .await
        .unwrap();
    let ini = ini::Ini::load_from_str_opt(
        &ini_text,
        ini::ParseOption {
            enabled_quote: true,
            enabled_escape: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(ini.get_from(Some("site"), "note"), Some(awkward));
    assert_eq!(ini.get_from(Some("sync"), "batch_size"), Some("1000"));

    let unchanged = s
        .server
        .http
        .get(s.server.endpoint("/config"))
        .bearer_auth(&s.site_token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);
    assert_eq!(unchanged.headers()["etag"].to_str().unwrap(), etag);
    put(
        &s,
        &s.admin_token,
        json!({"scope": "tenant", "key": "sync.batch_size", "value": 2000}),
    )
    .await;
    let changed = s
        .server
        .http
        .get(s.server.endpoint("/config"))
        .bearer_auth(&s.site_token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200, "a change makes a new ETag");
    assert_eq!(
        get(&s, &s.site_token, "/config?format=yaml").await.status(),
        400
    );
}

async fn secrets_are_sealed_at_rest_and_revealed_only_where_allowed(backend: Backend) {
    let s = setup(backend).await;
    let password = "Pa$$w0rd;with=stuff";
    put(&s, &s.admin_token, json!({"scope": "tenant", "key": "db.password", "value": password, "secret": true, "reveal": true})).await;
    put(
        &s,
        &s.admin_token,
        json!({"scope": "tenant", "key": "api.admin_token", "value": "top-secret", "secret": true}),
    )
    .await;
    let config: Value = get(&s, &s.site_token, "/config")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(config["db.password"], password, "revealed to clients");
    assert_eq!(
        config["api.admin_token"], "********",
        "masked when not revealable"
    );
    let reads = s.server.audit_events("config.secret_read").await;
    assert_eq!(reads.len(), 1);
    assert!(reads[0].details.contains("db.password") && !reads[0].details.contains(password));

    let head = s.server.store.config_head(s.tenant).await.unwrap().unwrap();
    let rows = s
        .server
        .store
        .config_entries(s.tenant, head.version)
        .await
        .unwrap();
    assert!(
        rows.iter()
            .all(|r| !r.value.contains("Pa$$") && !r.value.contains("top-secret")),
        "sealed at rest"
    );
    assert!(rows.iter().all(|r| r.value.starts_with("kxs2:")));
    let version: Value = get(
        &s,
        &s.admin_token,
        &format!("/config/versions/{}", head.version),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(version["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["value"] == "********"));
    let audit = serde_json::to_string(
        &s.server
            .audit()
            .await
            .iter()
            .map(|e| e.details.clone())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(
        !audit.contains("Pa$$w0rd") && !audit.contains("top-secret"),
        "no secret in the audit log"
    );
}

async fn every_change_is_a_version_with_history_diff_and_rollback(backend: Backend) {
    let s = setup(backend).await;
    put(
        &s,
        &s.admin_token,
        json!({"scope": "tenant", "key": "a", "value": 1, "comment": "first"}),
    )
    .await;
    put(
        &s,
        &s.admin_token,
        json!({"scope": "tenant", "key": "b", "value": "x"}),
    )
    .await;
    put(
        &s,
        &s.admin_token,
        json!({"scope": "tenant", "key": "a", "value": 2}),
    )
    .await;
    let unset = s
        .server
        .http
        .delete(s.server.endpoint("/config/entries?scope=tenant&key=b"))
        .bearer_auth(&s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(unset.status(), 200);
    let history: Value = get(&s, &s.admin_token, "/config/versions")
        .await
        .json()
        .await
        .unwrap();
    let versions: Vec<i64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [4, 3, 2, 1]);
    assert_eq!(history[3]["comment"], "first");
    assert_eq!(
        history[3]["author"],
        s.server.store.list_clients(Some(s.tenant)).await.unwrap()[1]
            .client_id
            .as_str()
    );

    let diff: Value = get(&s, &s.admin_token, "/config/diff?from=2&to=4")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        diff,
        json!([
            {"scope": "tenant", "key": "a", "change": "changed", "from": 1, "to": 2},
            {"scope": "tenant", "key": "b", "change": "removed", "from": "x", "to": null},
        ])
    );
    let rollback = s
        .server
        .http
        .post(s.server.endpoint("/config/rollback"))
        .bearer_auth(&s.admin_token)
        .json(&json!({"to": 2, "comment": "undo"}))
        .send()
        .await
        .unwrap();
    let rolled: Value = rollback.json().await.unwrap();
    assert_eq!(rolled["version"], 5);
    assert_eq!(
        rolled["content_hash"], history[2]["content_hash"],
        "version 5 equals version 2"
    );
    let config: Value = get(&s, &s.site_token, "/config")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(config, json!({"a": 1, "b": "x"}));
    let changes = s.server.audit_events("config.changed").await;
    assert_eq!(changes.len(), 5);
    let last: Value = serde_json::from_str(&changes[4].details).unwrap();
    assert_eq!(
        (
            last["old_version"].as_i64(),
            last["new_version"].as_i64(),
            last["action"].as_str()
        ),
        (Some(4), Some(5), Some("rollback"))
    );
}

async fn a_tenant_never_sees_or_changes_another_tenants_configuration(backend: Backend) {
    let s = setup(backend).await;
    put(
        &s,
        &s.admin_token,
        json!({"scope": "tenant", "key": "secret.plan", "value": "acme-only"}),
    )
    .await;
    let globex = s.server.tenant("Globex").await;
    let other_admin = s
        .server
        .register(globex, "Globex admin", "config:read config:write")
        .await;
    let other = s.server.access_token(&other_admin).await;
    let history: Value = get(&s, &other, "/config/versions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history, json!([]), "another tenant's history is invisible");
    assert_eq!(get(&s, &other, "/config/versions/1").await.status(), 404);
    assert_eq!(
        get(&s, &other, "/config/diff?from=1&to=1").await.status(),
        404
    );
    let config: Value = get(&s, &other, "/config").await.json().await.unwrap();
    assert_eq!(config, json!({}));
    let foreign_client = put(
        &s,
        &other,
        json!({"scope": format!("client:{}", s.site.client_id), "key": "x", "value": 1}),
    )
    .await;
    assert_eq!(
        foreign_client.status(),
        404,
        "cannot target another tenant's client"
    );
    let drift: Value = get(&s, &other, "/config/drift").await.json().await.unwrap();
    assert!(drift
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["client_id"] != s.site.client_id.as_str()));
    let global = put(
        &s,
        &other,
        json!({"scope": "global", "key": "x", "value": 1}),
    )
    .await;
    assert_eq!(
        global.status(),
        400,
        "the global configuration is the operators'"
    );
    let site_cannot_write = put(
        &s,
        &s.site_token,
        json!({"scope": "tenant", "key": "x", "value": 1}),
    )
    .await;
    assert_eq!(site_cannot_write.status(), 403);
}

async fn drift_lists_sites_not_on_their_current_configuration(backend: Backend) {
    let s = setup(backend).await;
    // An admin console never syncs, so it never runs a configuration: never drift.
    let console = s
        .server
        .register(s.tenant, "Head office", "clients:admin config:read")
        .await;
    put(
        &s,
        &s.admin_token,
        json!({"scope": "tenant", "key": "sync.interval", "value": 60}),
    )
    .await;
    let drift: Value = get(&s, &s.admin_token, "/config/drift")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        drift
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["client_id"] == s.site.client_id.as_str()),
        "never reported"
    );
    assert!(
        drift
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["client_id"] != console.client_id.as_str()),
        "an admin credential is not a site: {drift}"
    );
    let etag = get(&s, &s.site_token, "/config").await.headers()["etag"]
        .to_str()
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let batch = json!({"config_hash": etag, "records": [{"entity": "orders", "id": "1", "op": "upsert", "version": "1800000000000-0000-s", "data": {}}]});
    assert_eq!(
        s.server
            .post_batch(&s.site_token, "k1", &batch)
            .await
            .status(),
        200
    );
    let drift: Value = get(&s, &s.admin_token, "/config/drift")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        drift
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["client_id"] != s.site.client_id.as_str()),
        "on its latest version"
    );
    put(
        &s,
        &s.admin_token,
        json!({"scope": "tenant", "key": "sync.interval", "value": 120}),
    )
    .await;
    let drift: Value = get(&s, &s.admin_token, "/config/drift")
        .await
        .json()
        .await
        .unwrap();
    let line = drift
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["client_id"] == s.site.client_id.as_str())
        .unwrap();
    assert_eq!(line["reported_hash"], etag.as_str());
}

async fn bad_configuration_input_is_refused_and_changes_nothing(backend: Backend) {
    let s = setup(backend).await;
    for (body, status) in [
        (
            json!({"scope": "tenant", "key": "bad key", "value": 1}),
            400,
        ),
        (
            json!({"scope": "tenant", "key": "k", "value": "bell\u{7}"}),
            400,
        ),
        (json!({"scope": "planet", "key": "k", "value": 1}), 400),
        (
            json!({"scope": "tenant", "key": "k", "value": "x", "type": "number"}),
            400,
        ),
        (
            json!({"scope": "client:kxc_nobody", "key": "k", "value": 1}),
            404,
        ),
        (json!({"key": "k"}), 400),
    ] {
        assert_eq!(
            put(&s, &s.admin_token, body.clone()).await.status(),
            status,
            "{body}"
        );
    }
    let missing = s
        .server
        .http
        .delete(s.server.endpoint("/config/entries?scope=tenant&key=nope"))
        .bearer_auth(&s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let rollback = s
        .server
        .http
        .post(s.server.endpoint("/config/rollback"))
        .bearer_auth(&s.admin_token)
        .json(&json!({"to": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(rollback.status(), 404);
    assert!(
        s.server
            .store
            .config_versions(s.tenant)
            .await
            .unwrap()
            .is_empty(),
        "no version was made"
    );
    assert_eq!(
        get(&s, &s.admin_token, "/config/diff?from=x&to=2")
            .await
            .status(),
        400
    );
}

async fn an_admin_dry_runs_a_change_then_makes_it_with_a_comment(backend: Backend) {
    use reqwest::Method;
    let s = setup(backend).await;
    set_global(&s, "log.level", ConfigValue::String("info".into())).await;
    put(
        &s,
        &s.admin_token,
        json!({"scope": "tenant", "key": "sync.interval", "value": 60}),
    )
    .await;
    put(&s, &s.admin_token, json!({"scope": "tenant", "key": "db.password", "value": "Pa$$w0rd", "secret": true, "reveal": true})).await;
    let before = history_and_audit(&s).await;

    // The admin asks what slowing the sites' polling would do, before doing it.
    let dry = change(
        &s,
        Method::PUT,
        "/config/entries?dry_run=true",
        Some(json!({"scope": "tenant", "key": "sync.interval", "value": 120})),
    )
    .await;
    assert_eq!(dry.status(), 200);
    let dry: Value = dry.json().await.unwrap();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["version"], 3, "the version it would make");
    assert_eq!(
        dry["diff"],
        json!([{"scope": "tenant", "key": "sync.interval", "change": "changed", "from": 60, "to": 120}])
    );
    assert_eq!(dry["rendered_for"], "tenant");
    let renderings = &dry["renderings"];
    assert_eq!(
        renderings["json"],
        json!({"db.password": "********", "log.level": "info", "sync.interval": 120}),
        "global then tenant settings, the secret masked although sites may read it"
    );
    let xml = renderings["xml"].as_str().unwrap();
    assert_eq!(xml_value(xml, "sync.interval").as_deref(), Some("120"));
    assert_eq!(xml_value(xml, "db.password").as_deref(), Some("********"));
    let ini = ini_of(renderings["ini"].as_str().unwrap());
    assert_eq!(ini.get_from(Some("sync"), "interval"), Some("120"));
    assert_eq!(ini.get_from(Some("log"), "level"), Some("info"));
    assert!(
        !dry.to_string().contains("Pa$$w0rd"),
        "no secret in a dry run"
    );

    // A dry run for one site shows that site's configuration.
    let for_site: Value = change(
        &s,
        Method::PUT,
        "/config/entries?dry_run=true",
        Some(json!({"scope": format!("client:{}", s.site.client_id), "key": "site.note", "value": "back room"})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        for_site["rendered_for"],
        format!("client:{}", s.site.client_id).as_str()
    );
    assert_eq!(for_site["renderings"]["json"]["site.note"], "back room");
    assert_eq!(for_site["renderings"]["json"]["sync.interval"], 60);
    // And of a removal; a removal of nothing is refused as a real one is.
    let unset: Value = change(
        &s,
        Method::DELETE,
        "/config/entries?scope=tenant&key=sync.interval&dry_run=true",
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        unset["diff"],
        json!([{"scope": "tenant", "key": "sync.interval", "change": "removed", "from": 60, "to": null}])
    );
    assert_eq!(
        unset["renderings"]["json"],
        json!({"db.password": "********", "log.level": "info"})
    );
    let nothing = change(
        &s,
        Method::DELETE,
        "/config/entries?scope=tenant&key=nope&dry_run=true",
        None,
    )
    .await;
    assert_eq!(nothing.status(), 404);
    let bad = change(
        &s,
        Method::PUT,
        "/config/entries?dry_run=true",
        Some(json!({"scope": "tenant", "key": "bad key", "value": 1})),
    )
    .await;
    assert_eq!(bad.status(), 400, "validated as a real change");

    assert_eq!(
        history_and_audit(&s).await,
        before,
        "dry runs make no version and no audit entry"
    );
    let site_config: Value = get(&s, &s.site_token, "/config")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        site_config["sync.interval"], 60,
        "sites still get the old value"
    );

    // Then the admin makes the change, saying why.
    let why = "slower polling over the holidays";
    let written = change(
        &s,
        Method::PUT,
        "/config/entries",
        Some(json!({"scope": "tenant", "key": "sync.interval", "value": 120, "comment": why})),
    )
    .await;
    assert_eq!(written.status(), 200);
    let written: Value = written.json().await.unwrap();
    assert_eq!(written["version"], dry["version"]);
    assert_eq!(written["comment"], why);
    let history: Value = get(&s, &s.admin_token, "/config/versions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            history[0]["version"].as_i64(),
            history[0]["comment"].as_str()
        ),
        (Some(3), Some(why))
    );
    assert_eq!(
        history[1]["comment"], "",
        "a change without comment stores an empty one"
    );
    let diff: Value = get(&s, &s.admin_token, "/config/diff?from=2&to=3")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        diff, dry["diff"],
        "the dry run showed the diff the change made"
    );
    let mut site_config: Value = get(&s, &s.site_token, "/config")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(site_config["db.password"], "Pa$$w0rd");
    site_config["db.password"] = json!("********");
    assert_eq!(
        site_config, renderings["json"],
        "the dry run showed what sites now get"
    );
    let changed = s.server.audit_events("config.changed").await;
    let last: Value = serde_json::from_str(&changed.last().unwrap().details).unwrap();
    assert_eq!(
        (last["comment"].as_str(), last["new_version"].as_i64()),
        (Some(why), Some(3))
    );
}

async fn with_comments_required_a_change_without_one_is_refused_and_changes_nothing(
    backend: Backend,
) {
    use reqwest::Method;
    let s = setup_with(backend, |settings| settings.require_config_comment = true).await;
    let first = put(
        &s,
        &s.admin_token,
        json!({"scope": "tenant", "key": "sync.interval", "value": 60, "comment": "initial rollout"}),
    )
    .await;
    assert_eq!(first.status(), 200);
    let before = history_and_audit(&s).await;

    let set = json!({"scope": "tenant", "key": "sync.interval", "value": 120});
    let refusals = [
        (Method::PUT, "/config/entries", Some(set.clone())),
        (
            Method::PUT,
            "/config/entries?dry_run=true",
            Some(set.clone()),
        ),
        (
            Method::PUT,
            "/config/entries",
            Some(
                json!({"scope": "tenant", "key": "sync.interval", "value": 120, "comment": "  \n"}),
            ),
        ),
        (
            Method::DELETE,
            "/config/entries?scope=tenant&key=sync.interval",
            None,
        ),
        (
            Method::DELETE,
            "/config/entries?scope=tenant&key=sync.interval&comment=",
            None,
        ),
        (Method::POST, "/config/rollback", Some(json!({"to": 1}))),
        (
            Method::POST,
            "/config/rollback?dry_run=true",
            Some(json!({"to": 1, "comment": null})),
        ),
    ];
    for (method, path, body) in refusals {
        let what = format!("{method} {path} {body:?}");
        let response = change(&s, method, path, body).await;
        assert_eq!(response.status(), 400, "{what}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["invalid_params"][0]["name"], "comment", "{what}");
        assert!(
            problem["detail"].as_str().unwrap().contains("comment"),
            "{what}"
        );
    }
    assert_eq!(history_and_audit(&s).await, before, "nothing changed");

    let with_comment = change(
        &s,
        Method::DELETE,
        "/config/entries?scope=tenant&key=sync.interval&comment=back%20to%20defaults",
        None,
    )
    .await;
    assert_eq!(with_comment.status(), 200);
    let version: Value = with_comment.json().await.unwrap();
    assert_eq!(
        (version["version"].as_i64(), version["comment"].as_str()),
        (Some(2), Some("back to defaults"))
    );
}

async fn a_dry_run_of_a_rollback_shows_the_way_back_to_the_old_version(backend: Backend) {
    use reqwest::Method;
    let s = setup(backend).await;
    for body in [
        json!({"scope": "tenant", "key": "a", "value": 1}),
        json!({"scope": "tenant", "key": "a", "value": 2}),
        json!({"scope": "tenant", "key": "b", "value": "x"}),
    ] {
        assert_eq!(put(&s, &s.admin_token, body).await.status(), 200);
    }
    let before = history_and_audit(&s).await;

    let dry = change(
        &s,
        Method::POST,
        "/config/rollback?dry_run=true",
        Some(json!({"to": 1})),
    )
    .await;
    assert_eq!(dry.status(), 200);
    let dry: Value = dry.json().await.unwrap();
    assert_eq!(
        (dry["dry_run"].as_bool(), dry["version"].as_i64()),
        (Some(true), Some(4))
    );
    assert_eq!(
        dry["diff"],
        json!([
            {"scope": "tenant", "key": "a", "change": "changed", "from": 2, "to": 1},
            {"scope": "tenant", "key": "b", "change": "removed", "from": "x", "to": null},
        ])
    );
    assert_eq!(dry["rendered_for"], "tenant");
    assert_eq!(dry["renderings"]["json"], json!({"a": 1}));
    assert_eq!(
        xml_value(dry["renderings"]["xml"].as_str().unwrap(), "a").as_deref(),
        Some("1")
    );
    assert_eq!(dry["renderings"]["ini"], "a = \"1\"\n");
    let to_nowhere = change(
        &s,
        Method::POST,
        "/config/rollback?dry_run=true",
        Some(json!({"to": 9})),
    )
    .await;
    assert_eq!(to_nowhere.status(), 404, "as a real rollback answers");
    assert_eq!(history_and_audit(&s).await, before, "nothing written");

    let rolled = change(
        &s,
        Method::POST,
        "/config/rollback",
        Some(json!({"to": 1, "comment": "b broke the tills"})),
    )
    .await;
    let rolled: Value = rolled.json().await.unwrap();
    assert_eq!(
        (rolled["version"].as_i64(), rolled["comment"].as_str()),
        (Some(4), Some("b broke the tills"))
    );
    let diff: Value = get(&s, &s.admin_token, "/config/diff?from=3&to=4")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(diff, dry["diff"]);
    let config: Value = get(&s, &s.site_token, "/config")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(config, dry["renderings"]["json"]);
}

/// Runs `kendrix-server` on the story's database, off the async threads.
async fn server_command(s: &Setup, args: &[&str]) -> String {
    let url = s.server.db.url.clone();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        server_cli(&url, &args)
    })
    .await
    .unwrap()
}

async fn operators_dry_run_changes_from_the_command_line(backend: Backend) {
    let s = setup(backend).await;
    set_global(&s, "log.level", ConfigValue::String("info".into())).await;
    let out = server_command(
        &s,
        &[
            "config",
            "set",
            "log.level",
            "debug",
            "--global",
            "--dry-run",
        ],
    )
    .await;
    let (summary, diff) = out.split_once('\n').unwrap();
    assert_eq!(
        summary,
        "dry run: would make version 2 of the global configuration; nothing was written"
    );
    let diff: Value = serde_json::from_str(diff).unwrap();
    assert_eq!(
        diff,
        json!([{"scope": "global", "key": "log.level", "change": "changed", "from": "info", "to": "debug"}])
    );
    assert_eq!(
        s.server.store.config_versions(GLOBAL).await.unwrap().len(),
        1,
        "no version was made"
    );
    let tenant = s.tenant.to_string();
    let out = server_command(
        &s,
        &[
            "config",
            "set",
            "sync.interval",
            "90",
            "--type",
            "number",
            "--tenant-id",
            &tenant,
            "--comment",
            "busier season",
        ],
    )
    .await;
    assert!(out.starts_with("version 1 of tenant "), "{out}");
    let versions = s.server.store.config_versions(s.tenant).await.unwrap();
    assert_eq!(versions[0].comment, "busier season");
}
