//! The admin API (`clients:admin`): the sites of the admin's own tenant — register, list with
//! their health, inspect, rotate a secret, revoke — and the heartbeat sites send.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::bearer::{Bearer, ClientsAdmin, SyncWrite};
use super::problem::{ApiError, Problem};
use super::AppState;
use crate::services::sites::{
    FleetPage, FleetQuery, Heartbeat, Registration, Rotation, SiteDetail,
};

/// A site to register.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewSite {
    /// What admins call it, e.g. "Store 99" (1 to 100 characters).
    pub name: String,
    /// Space-separated, from `sync:write config:read` (the default when absent).
    pub scopes: Option<String>,
}

/// Which page of the fleet to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SitesQuery {
    /// Only the sites that need attention.
    #[serde(default)]
    pub attention: bool,
    /// Words each listed site's name or client id contains (case-insensitive; at most
    /// 200 characters).
    pub q: Option<String>,
    /// The client id of the previous page's last site (its `next_after`).
    pub after: Option<String>,
    /// Sites per page, 1 to 500 (default 100).
    pub limit: Option<u32>,
}

/// Every client of the tenant by id, for naming them where ids appear.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteNames {
    pub names: Vec<SiteName>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SiteName {
    pub client_id: String,
    pub name: String,
    /// `site` or `admin`.
    pub role: &'static str,
    /// `active` or `revoked`.
    pub status: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RotateSecret {
    /// How long the old secret keeps working (0 to 2592000; 0: it stops at once).
    #[serde(default)]
    pub grace_seconds: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    pub client_id: String,
    pub status: &'static str,
    pub tokens_revoked: u64,
}

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(t)| t)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

/// Registers a site in the admin's tenant; its secret and enrollment string are shown in
/// this answer only.
#[utoipa::path(
    post, path = "/admin/sites", tag = "admin",
    security(("bearer" = ["clients:admin"])),
    request_body = NewSite,
    responses(
        (status = 201, description = "The site, with its secret and enrollment string (shown once)", body = Registration),
        (status = 400, description = "Bad name or unknown scope", body = Problem),
        (status = 401, description = "Missing or invalid token", body = Problem),
        (status = 403, description = "Token lacks clients:admin, or a scope a site may not get was asked for", body = Problem),
    )
)]
pub async fn register(
    State(app): State<AppState>,
    Bearer(admin, ..): Bearer<ClientsAdmin>,
    new_site: Result<Json<NewSite>, JsonRejection>,
) -> Result<(StatusCode, Json<Registration>), ApiError> {
    let new_site = body(new_site)?;
    let registration = app
        .sites
        .register_site(&admin, &new_site.name, new_site.scopes.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(registration)))
}

/// One page of the admin's tenant's sites with their health and the reasons they need
/// attention, and how many sites the tenant has.
#[utoipa::path(
    get, path = "/admin/sites", tag = "admin",
    security(("bearer" = ["clients:admin"])),
    params(SitesQuery),
    responses(
        (status = 200, description = "A page of sites, those that need attention first", body = FleetPage),
        (status = 400, description = "Bad limit, search too long, or `after` names no site of this tenant", body = Problem),
        (status = 401, description = "Missing or invalid token", body = Problem),
        (status = 403, description = "Token lacks clients:admin", body = Problem),
    )
)]
pub async fn list(
    State(app): State<AppState>,
    Bearer(admin, ..): Bearer<ClientsAdmin>,
    query: Result<Query<SitesQuery>, QueryRejection>,
) -> Result<Json<FleetPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let query = FleetQuery {
        attention_only: query.attention,
        search: query.q,
        after: query.after,
        limit: query.limit,
    };
    Ok(Json(app.sites.admin_fleet_page(&admin, &query).await?))
}

/// The names of the admin's tenant's clients (sites and admin credentials), for showing a
/// name wherever an id appears (audit entries, configuration scopes, statistics).
#[utoipa::path(
    get, path = "/admin/site-names", tag = "admin",
    security(("bearer" = ["clients:admin"])),
    responses(
        (status = 200, description = "Every client of the tenant by id", body = SiteNames),
        (status = 401, description = "Missing or invalid token", body = Problem),
        (status = 403, description = "Token lacks clients:admin", body = Problem),
    )
)]
pub async fn names(
    State(app): State<AppState>,
    Bearer(admin, ..): Bearer<ClientsAdmin>,
) -> Result<Json<SiteNames>, ApiError> {
    let names = app
        .sites
        .names(&admin)
        .await?
        .into_iter()
        .map(|client| SiteName {
            role: client.role(),
            status: client.status(),
            client_id: client.client_id,
            name: client.name,
        })
        .collect();
    Ok(Json(SiteNames { names }))
}

/// One site of the admin's tenant, with its latest runs and batches.
#[utoipa::path(
    get, path = "/admin/sites/{client_id}", tag = "admin",
    security(("bearer" = ["clients:admin"])),
    params(("client_id" = String, Path, description = "The site's client id (kxc_…)")),
    responses(
        (status = 200, description = "The site", body = SiteDetail),
        (status = 400, description = "client_id is not a client id (visible ASCII, at most 128 bytes)", body = Problem),
        (status = 404, description = "No such site in this tenant", body = Problem),
    )
)]
pub async fn detail(
    State(app): State<AppState>,
    Bearer(admin, ..): Bearer<ClientsAdmin>,
    Path(client_id): Path<String>,
) -> Result<Json<SiteDetail>, ApiError> {
    Ok(Json(app.sites.site_detail(&admin, &client_id).await?))
}

/// Revokes a site: it is disabled and every token it holds stops working at its next
/// request, on every server instance.
#[utoipa::path(
    post, path = "/admin/sites/{client_id}/revoke", tag = "admin",
    security(("bearer" = ["clients:admin"])),
    params(("client_id" = String, Path, description = "The site's client id (kxc_…)")),
    responses(
        (status = 200, description = "Revoked", body = Revoked),
        (status = 400, description = "client_id is not a client id (visible ASCII, at most 128 bytes)", body = Problem),
        (status = 404, description = "No such site in this tenant", body = Problem),
    )
)]
pub async fn revoke(
    State(app): State<AppState>,
    Bearer(admin, ..): Bearer<ClientsAdmin>,
    Path(client_id): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    let revoked = app.sites.revoke_site(&admin, &client_id).await?;
    Ok(Json(Revoked {
        client_id,
        status: "revoked",
        tokens_revoked: revoked.tokens_revoked,
    }))
}

/// Gives a site a new secret and enrollment string; the old secret keeps working for
/// `grace_seconds`, so the site can be re-enrolled (its queue is kept) before it stops.
#[utoipa::path(
    post, path = "/admin/sites/{client_id}/rotate-secret", tag = "admin",
    security(("bearer" = ["clients:admin"])),
    params(("client_id" = String, Path, description = "The site's client id (kxc_…)")),
    request_body = RotateSecret,
    responses(
        (status = 200, description = "The new secret and enrollment (shown once)", body = Rotation),
        (status = 400, description = "grace_seconds out of range, or client_id not a client id", body = Problem),
        (status = 404, description = "No such site in this tenant", body = Problem),
        (status = 409, description = "The site is revoked", body = Problem),
    )
)]
pub async fn rotate_secret(
    State(app): State<AppState>,
    Bearer(admin, ..): Bearer<ClientsAdmin>,
    Path(client_id): Path<String>,
    rotate: Result<Json<RotateSecret>, JsonRejection>,
) -> Result<Json<Rotation>, ApiError> {
    let rotate = body(rotate)?;
    let rotation = app
        .sites
        .rotate_site_secret(&admin, &client_id, rotate.grace_seconds)
        .await?;
    Ok(Json(rotation))
}

/// A site's heartbeat: its queue, dead letters, agent version, configuration and last run.
#[utoipa::path(
    post, path = "/sync/heartbeat", tag = "sync",
    security(("bearer" = ["sync:write"])),
    request_body = Heartbeat,
    responses(
        (status = 204, description = "Recorded"),
        (status = 400, description = "A field out of range (named)", body = Problem),
        (status = 401, description = "Missing or invalid token", body = Problem),
        (status = 403, description = "Token lacks sync:write", body = Problem),
    )
)]
pub async fn heartbeat(
    State(app): State<AppState>,
    Bearer(site, ..): Bearer<SyncWrite>,
    beat: Result<Json<Heartbeat>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    app.sites.record_heartbeat(&site, body(beat)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
