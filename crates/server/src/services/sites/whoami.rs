//! Who a token belongs to (`GET /whoami`): its client, its tenant and its role, for any
//! valid token, so a site's app can say "Connected to Acme · Store 12".

use serde::Serialize;
use utoipa::ToSchema;

use super::Sites;
use crate::services::authorizer::Caller;
use crate::services::{Failure, Within};

/// The caller's identity as the server knows it (never a secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Identity {
    pub client_id: String,
    /// The client's name, e.g. "Store 12".
    pub name: String,
    pub tenant_id: i64,
    pub tenant_name: String,
    /// The token's scopes, space-separated.
    pub scopes: String,
    /// `admin` for a credential with `clients:admin`, else `site`.
    pub role: &'static str,
}

impl Sites {
    /// The identity of the caller's token.
    pub async fn whoami(&self, caller: &Caller) -> Result<Identity, Failure> {
        let tenant = self
            .store
            .tenant(caller.tenant_id)
            .await
            .within(&caller.ctx)?;
        Ok(Identity {
            client_id: caller.client_id.clone(),
            name: caller.client_name.clone(),
            tenant_id: caller.tenant_id,
            // A client's tenant cannot be deleted (a foreign key), so the name is there.
            tenant_name: tenant.map(|t| t.name).unwrap_or_default(),
            scopes: caller.scopes.to_string(),
            role: if caller.scopes.is_admin() {
                "admin"
            } else {
                "site"
            },
        })
    }
}
