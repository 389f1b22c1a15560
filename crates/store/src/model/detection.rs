//! What anomaly detection reads, and the alerts it opens, keeps and resolves.

use kendrix_core::UnixMillis;

/// One site as anomaly detection sees it: what tells whether it went quiet or piles up.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SiteSignals {
    pub client_pk: i64,
    pub tenant_id: i64,
    pub client_id: String,
    pub name: String,
    pub created_at: UnixMillis,
    /// When a batch of the site last applied something.
    pub last_batch_at: Option<UnixMillis>,
    /// Its latest heartbeat, the interval it syncs on, and its oldest waiting record then.
    pub heartbeat_at: Option<UnixMillis>,
    pub interval_secs: Option<i64>,
    pub oldest_pending_at: Option<UnixMillis>,
    /// The hash of the configuration it last said it runs, and when.
    pub config_hash: Option<String>,
    pub config_reported_at: Option<UnixMillis>,
}

/// A site's count of one metric in one time bucket (`bucket` = time ÷ the bucket width).
/// Metrics: `auth_failures`, `tokens_issued`, `rejected_records`, `refused_batches`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricCount {
    pub client_pk: i64,
    pub metric: &'static str,
    pub bucket: i64,
    pub count: i64,
}

/// An alert as stored and shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: i64,
    /// `auth_failures`, `token_rate`, `refused_records`, `refused_batches`, `stale`,
    /// `backlog` or `audit_chain`.
    pub kind: String,
    pub tenant_id: Option<i64>,
    /// The site it is about (`null`: the whole server).
    pub client_id: Option<String>,
    pub site_name: Option<String>,
    pub opened_at: UnixMillis,
    /// The last detection pass that found the value unusual.
    pub unusual_at: UnixMillis,
    pub resolved_at: Option<UnixMillis>,
    /// The value observed, and the baseline (threshold) it crossed.
    pub observed: f64,
    pub baseline: f64,
    /// What happened, in plain words.
    pub summary: String,
}

/// An alert a pass opens.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub kind: String,
    pub tenant_id: Option<i64>,
    pub client_pk: Option<i64>,
    pub observed: f64,
    pub baseline: f64,
    pub summary: String,
}

/// What one detection pass changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertChanges {
    pub opened: Vec<NewAlert>,
    /// Open alerts still unusual (their `unusual_at` moves on).
    pub still_unusual: Vec<i64>,
    pub resolved: Vec<i64>,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertQuery {
    /// `None`: every tenant's (the operator).
    pub tenant_id: Option<i64>,
    /// `Some(true)` open only, `Some(false)` resolved only.
    pub open: Option<bool>,
    pub kind: Option<String>,
    pub client_id: Option<String>,
    /// Only about these clients (by `pk`).
    pub client_pks: Option<Vec<i64>>,
    pub limit: i64,
}
