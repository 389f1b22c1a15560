//! `GET /whoami`: who the bearer token belongs to, for any valid token.

use axum::extract::State;
use axum::Json;

use super::bearer::{AnyBearer, Bearer};
use super::problem::{ApiError, Problem};
use super::AppState;
use crate::services::sites::Identity;

/// The caller's client, tenant, scopes and role (`site` or `admin`), for any valid token.
#[utoipa::path(
    get, path = "/whoami", tag = "oauth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Who the token belongs to", body = Identity),
        (status = 401, description = "Missing or invalid token", body = Problem),
        (status = 429, description = "Rate limited", body = Problem),
    )
)]
pub async fn whoami(
    State(app): State<AppState>,
    Bearer(caller, ..): AnyBearer,
) -> Result<Json<Identity>, ApiError> {
    Ok(Json(app.sites.whoami(&caller).await?))
}
