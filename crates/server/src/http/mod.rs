//! The HTTP API: the state handlers share, routes, middleware, the serve loop and the
//! OpenAPI document. Only this module knows axum; handlers extract, make one service call and
//! map its answer.

pub mod admin;
pub mod alerts;
pub mod audit;
pub mod bearer;
pub mod config;
pub mod context;
pub mod oauth;
pub mod ops;
pub mod problem;
pub mod sync;
pub mod whoami;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Instrument;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::metrics::Metrics;
use crate::services::{
    Anomalies, AuditLog, Authorizer, BatchIntake, Configurations, Failure, Reports, Sites,
};
use crate::settings::Settings;
use context::REQUEST_ID_HEADER;

/// Everything a request handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub authorizer: Arc<Authorizer>,
    pub configurations: Arc<Configurations>,
    pub audit_log: Arc<AuditLog>,
    pub anomalies: Arc<Anomalies>,
    pub sites: Arc<Sites>,
    pub reports: Arc<Reports>,
    pub intake: Arc<BatchIntake>,
    pub metrics: Arc<Metrics>,
    /// Body limits and the sync settings.
    pub settings: Arc<Settings>,
    pub started: Instant,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Kendrix Sync server", description = "OAuth 2.0 client credentials, sync, configuration and audit for Kendrix sites."),
    paths(
        oauth::token, oauth::revoke, oauth::introspect, oauth::metadata,
        audit::logs, audit::export, audit::verify, audit::head, audit::public_key,
        audit::checkpoints, audit::report, alerts::list,
        config::effective, config::versions, config::version, config::diff, config::set,
        config::unset, config::rollback, config::drift,
        admin::register, admin::list, admin::names, admin::detail, admin::revoke, admin::rotate_secret, admin::heartbeat,
        sync::post_batch, sync::versions, sync::records, sync::stats, ops::health, ops::metrics, ops::auth_stats, ops::series,
        whoami::whoami, openapi,
    ),
    components(schemas(problem::Problem, oauth::OAuthErrorBody)),
    modifiers(&BearerScheme, &BearerRefusals),
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every bearer-protected operation can be refused before its handler runs — an
/// `Authorization` header that is not a Bearer credential (400, RFC 6750 `invalid_request`),
/// no or a bad token (401), a token without the scope (403), a client over its rate (429) —
/// so each
/// documents those answers, whether or not its own annotation lists them.
struct BearerRefusals;

impl Modify for BearerRefusals {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let refusals = [
            ("400", "Malformed request, e.g. a non-Bearer Authorization"),
            ("401", "Missing or invalid token"),
            ("403", "Token lacks the scope this endpoint needs"),
            ("429", "Rate limited; see Retry-After"),
        ];
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                if operation.security.as_ref().is_none_or(Vec::is_empty) {
                    continue;
                }
                for (status, description) in refusals {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| {
                            let problem = ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("Problem")))
                                .build();
                            RefOr::T(
                                ResponseBuilder::new()
                                    .description(description)
                                    .content("application/json", problem)
                                    .build(),
                            )
                        });
                }
            }
        }
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3 description of this API")))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Serves the API on `listener` until `shutdown` resolves, then finishes the requests in
/// flight.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The whole API as a router, ready for [`serve`] or `oneshot` in tests.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    Router::new()
        .route("/oauth/token", post(oauth::token))
        .route("/oauth/revoke", post(oauth::revoke))
        .route("/oauth/introspect", post(oauth::introspect))
        .route("/.well-known/oauth-authorization-server", get(oauth::metadata))
        .route("/sync/batches", post(sync::post_batch))
        .route("/sync/versions", get(sync::versions))
        .route("/sync/records", get(sync::records))
        .route("/sync/stats", get(sync::stats))
        .route("/sync/heartbeat", post(admin::heartbeat))
        .route("/admin/sites", post(admin::register).get(admin::list))
        .route("/admin/site-names", get(admin::names))
        .route("/admin/sites/{client_id}", get(admin::detail))
        .route("/admin/sites/{client_id}/revoke", post(admin::revoke))
        .route("/admin/sites/{client_id}/rotate-secret", post(admin::rotate_secret))
        .route("/auth/stats", get(ops::auth_stats))
        .route("/stats/series", get(ops::series))
        .route("/whoami", get(whoami::whoami))
        .route("/audit/logs", get(audit::logs))
        .route("/audit/export", get(audit::export))
        .route("/audit/head", get(audit::head))
        .route("/audit/checkpoints", get(audit::checkpoints))
        .route("/alerts", get(alerts::list))
        .route("/audit/public-key", get(audit::public_key))
        .route("/config", get(config::effective))
        .route("/config/versions", get(config::versions))
        .route("/config/versions/{version}", get(config::version))
        .route("/config/diff", get(config::diff))
        .route("/config/entries", axum::routing::put(config::set).delete(config::unset))
        .route("/config/rollback", post(config::rollback))
        .route("/config/drift", get(config::drift))
        .route("/health", get(ops::health))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .layer(middleware::from_fn(run_to_completion))
        // Reads of the whole chain that write nothing until their end: when the caller hangs
        // up, it is dropped rather than run to completion.
        .route("/audit/verify", get(audit::verify))
        .route("/audit/report", get(audit::report))
        .layer(middleware::from_fn_with_state(state.clone(), context::resolve_client_address))
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let id = request
                    .headers()
                    .get(REQUEST_ID_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // The path only: a query string is never logged.
                tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path(), client_id = tracing::field::Empty)
            }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(middleware::from_fn(context::drop_unsafe_request_id))
        .with_state(state)
}

async fn not_found() -> Response {
    problem::ApiError::NotFound.into_response()
}

/// A request that reached its handler runs to the end on a task of its own, even when the
/// client hangs up or the timeout answers first: a batch whose body arrived is applied and
/// its answer kept for the retry, and no write is ever cut off halfway.
async fn run_to_completion(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    // The task keeps the request's span, so its log lines still carry the request id.
    let handled = next.run(request).instrument(tracing::Span::current());
    match tokio::spawn(handled).await {
        Ok(response) => response,
        Err(err) => problem::ApiError::from(Failure {
            request_id,
            error: err.into(),
        })
        .into_response(),
    }
}

async fn record_metrics(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Methods outside the standard set share one series, so callers cannot add series.
    let method = match request.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS") => m.to_owned(),
        _ => "other".to_owned(),
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    app.metrics.record_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
