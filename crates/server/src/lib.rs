//! The Kendrix Sync server. `main.rs` only calls [`cli::main`]; everything else is here so
//! tests can build the router ([`http::router`]) or serve it on a real socket
//! ([`App::serve`]).
//!
//! Module order, no cycles: `cli` → `app` (wiring, housekeeping) → `http` (the only module
//! that knows the web framework) → `services` (plain structs: `Authorizer`, `Configurations`,
//! `AuditLog`, `Sites`, `Reports`, `BatchIntake`) → `kendrix_store` / `kendrix_core`. Architecture invariant:
//! this is the only crate that knows HTTP. It holds no SQL — storage goes through
//! `kendrix_store::Store` — and no domain rules that `kendrix_core` can hold without IO.

pub mod app;
pub mod audit_keys;
pub mod cli;
pub mod context;
pub mod entropy;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod services;
pub mod settings;
pub mod throttle;

pub use app::App;
pub use context::RequestContext;
pub use settings::Settings;
