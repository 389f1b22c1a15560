//! The bearer tokens of API requests (RFC 6750): a request is admitted only with a valid
//! access token carrying one of the endpoint's scopes (or, for an endpoint that names none,
//! any valid token), inside its client's rate limit. Every refusal is audited and counted
//! towards the failed-authentication throttle.

use kendrix_core::credentials;
use kendrix_core::{AuditDraft, AuditEvent, AuditOutcome, Scope, ScopeSet, UnixMillis};
use serde_json::json;

use super::Authorizer;
use crate::context::RequestContext;
use crate::services::{Failure, Within};
use crate::throttle::Verdict;

/// What an API request presented as its credential.
#[derive(Debug, Clone, Copy)]
pub enum Presented<'a> {
    /// No credential at all.
    Missing,
    /// Something that is not a well-formed bearer token.
    Malformed,
    /// A bearer token.
    Token(&'a str),
}

/// The authenticated caller of an API request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client_pk: i64,
    pub client_id: String,
    /// The client's name ("Store 12", "HQ: Maria"), for audit entries that name an actor.
    pub client_name: String,
    pub tenant_id: i64,
    pub scopes: ScopeSet,
    /// The family of the token used (also in its `token.issued` audit entry), so an admin
    /// can follow a sync from the token to the batch it carried.
    pub token_family: String,
    pub ctx: RequestContext,
}

impl Caller {
    /// An audit entry of this request, with the caller's tenant and client as its actor.
    pub fn audit(
        &self,
        at: UnixMillis,
        event: AuditEvent,
        outcome: AuditOutcome,
        details: serde_json::Value,
    ) -> AuditDraft {
        self.ctx
            .audit()
            .draft(at, event, outcome, details)
            .tenant(self.tenant_id)
            .client(self.client_id.clone())
    }
}

/// The scopes an endpoint admits: a token carrying any one of them is let in; an empty list
/// admits every valid token (`GET /whoami`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Required(pub &'static [Scope]);

impl Required {
    fn admits(self, scopes: &ScopeSet) -> bool {
        self.0.is_empty() || self.0.iter().any(|s| scopes.contains(*s))
    }

    /// Space-separated, as RFC 6750's `scope` attribute lists them.
    pub fn names(self) -> String {
        let names: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        names.join(" ")
    }
}

impl std::fmt::Display for Required {
    /// "the scope stats:read", "one of the scopes stats:read, clients:admin".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            [one] => write!(f, "the scope {one}"),
            many => {
                let names: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
                write!(f, "one of the scopes {}", names.join(", "))
            }
        }
    }
}

/// Why an API request was not admitted.
#[derive(Debug)]
pub enum BearerRefusal {
    /// No token was sent.
    Missing,
    /// The credential is not a well-formed bearer token.
    Malformed,
    /// The token is unknown, not an access token, revoked or expired (says which).
    Invalid(&'static str),
    /// The token carries none of these scopes.
    InsufficientScope(Required),
    /// Too many requests (or failed authentications); retry after this many seconds.
    RateLimited(u64),
    Failed(Failure),
}

impl From<Failure> for BearerRefusal {
    fn from(failure: Failure) -> Self {
        BearerRefusal::Failed(failure)
    }
}

/// Why a presented token was refused, for the audit entry and the answer.
enum Refusal {
    Missing,
    Malformed,
    Invalid(&'static str),
    Scope(Caller),
}

impl Authorizer {
    /// Admits an API request that needs one of `scope`: the caller it comes from, or why not.
    pub async fn admit_bearer(
        &self,
        ctx: &RequestContext,
        presented: Presented<'_>,
        scope: Required,
    ) -> Result<Caller, BearerRefusal> {
        let now = self.clock.now_ms();
        let caller = match self.check_bearer(ctx, presented, scope, now).await? {
            Ok(caller) => caller,
            Err(Refusal::Scope(caller)) => {
                // A valid identity asking for too much still counts against its own limit.
                if let Verdict::Limited {
                    retry_after_secs, ..
                } = self.throttle.api_request(caller.client_pk, now)
                {
                    return Err(BearerRefusal::RateLimited(retry_after_secs));
                }
                return Err(self
                    .refuse_bearer(ctx, Refusal::Scope(caller), scope, now)
                    .await);
            }
            Err(refusal) => return Err(self.refuse_bearer(ctx, refusal, scope, now).await),
        };
        let verdict = self.throttle.api_request(caller.client_pk, now);
        if let Verdict::Limited {
            retry_after_secs, ..
        } = verdict
        {
            return Err(BearerRefusal::RateLimited(retry_after_secs));
        }
        Ok(caller)
    }

    async fn check_bearer(
        &self,
        ctx: &RequestContext,
        presented: Presented<'_>,
        scope: Required,
        now: UnixMillis,
    ) -> Result<Result<Caller, Refusal>, Failure> {
        let token = match presented {
            Presented::Missing => return Ok(Err(Refusal::Missing)),
            Presented::Malformed => return Ok(Err(Refusal::Malformed)),
            Presented::Token(token) => token,
        };
        let state = self
            .store
            .token(&credentials::hash(token))
            .await
            .within(ctx)?;
        let state = match state {
            None => return Ok(Err(Refusal::Invalid("unknown"))),
            Some(s) if s.kind != kendrix_store::TokenKind::Access => {
                return Ok(Err(Refusal::Invalid("not an access token")))
            }
            Some(s) if s.client_revoked_at.is_some() => {
                return Ok(Err(Refusal::Invalid("revoked (its client was revoked)")))
            }
            Some(s) if s.revoked_at.is_some() => return Ok(Err(Refusal::Invalid("revoked"))),
            Some(s) if now >= s.expires_at => return Ok(Err(Refusal::Invalid("expired"))),
            Some(s) => s,
        };
        let caller = Caller {
            client_pk: state.client_pk,
            client_id: state.client_id,
            client_name: state.client_name,
            tenant_id: state.tenant_id,
            scopes: state.scopes.parse().unwrap_or_default(),
            token_family: state.family,
            ctx: ctx.clone(),
        };
        if !scope.admits(&caller.scopes) {
            return Ok(Err(Refusal::Scope(caller)));
        }
        Ok(Ok(caller))
    }

    /// Audits a refusal, counts it against the source address, and picks the answer.
    async fn refuse_bearer(
        &self,
        ctx: &RequestContext,
        refusal: Refusal,
        scope: Required,
        now: UnixMillis,
    ) -> BearerRefusal {
        let (reason, error, caller) = match refusal {
            Refusal::Missing => ("missing token", BearerRefusal::Missing, None),
            Refusal::Malformed => (
                "malformed Authorization header",
                BearerRefusal::Malformed,
                None,
            ),
            Refusal::Invalid(why) => (why, BearerRefusal::Invalid(why), None),
            Refusal::Scope(caller) => (
                "insufficient scope",
                BearerRefusal::InsufficientScope(scope),
                Some(caller),
            ),
        };
        let mut draft = ctx.audit().draft(
            now,
            AuditEvent::BearerRejected,
            AuditOutcome::Failure,
            json!({"reason": reason, "required_scope": scope.names()}),
        );
        if let Some(caller) = &caller {
            draft = draft
                .tenant(caller.tenant_id)
                .client(caller.client_id.clone());
        }
        // An under-scoped token is a valid identity: it does not count as a failed login.
        let throttled = if caller.is_none() {
            match self
                .throttle
                .failed_auth(&*self.store, &ctx.source, None, now)
                .await
            {
                Ok((
                    Verdict::Limited {
                        retry_after_secs, ..
                    },
                    crossed,
                )) => Some((retry_after_secs, crossed)),
                Ok(_) => None,
                Err(e) => return BearerRefusal::Failed(ctx.failure(e)),
            }
        } else {
            None
        };
        // Once an address is blocked, only the crossing is audited, so a flood cannot grow the log.
        let audit = match throttled {
            Some((_, false)) => None,
            _ => Some(draft),
        };
        if let Some(draft) = audit {
            // An under-scoped token is audited once a window with a count (see `refusals`);
            // the others are bounded by the address's failure block.
            let appended = if caller.is_some() {
                self.audit_refusal(draft).await
            } else {
                self.store.append_audit(&[draft]).await
            };
            if let Err(e) = appended {
                return BearerRefusal::Failed(ctx.failure(e));
            }
        }
        tracing::info!(request_id = %ctx.request_id, reason, "bearer token refused");
        match throttled {
            Some((secs, _)) => BearerRefusal::RateLimited(secs),
            None => error,
        }
    }
}
