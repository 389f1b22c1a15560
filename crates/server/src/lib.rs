//! The Kendrix Sync server. `main.rs` only calls [`cli::main`]; everything else is here so
//! tests can build the router ([`http::router`]) or serve it on a real socket ([`app::serve`]).
//!
//! Architecture invariant: this is the only crate that knows HTTP (axum). It holds no SQL —
//! storage goes through `kendrix_store::Store` — and no domain rules that `kendrix_core` can
//! hold without IO.

pub mod admin;
pub mod app;
pub mod audit_log;
pub mod cli;
pub mod configuration;
pub mod context;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod oauth;
pub mod settings;
pub mod throttle;

pub use app::{AppState, SystemClock};
pub use settings::Settings;
