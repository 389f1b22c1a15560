//! `serve` and `migrate`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use super::clients::print_labelled_registration;
use super::open_store;
use crate::app::{shutdown_signal, App};
use crate::context::RequestContext;
use crate::services::sites::{DEMO_ADMIN, DEMO_SITE, DEMO_STORE, DEMO_WAREHOUSE};
use crate::settings::Settings;
use kendrix_core::SystemClock;

/// Runs the server until Ctrl-C or SIGTERM, first setting up the demo tenant if asked.
pub(super) async fn serve(
    mut settings: Settings,
    bind: Option<SocketAddr>,
    demo: bool,
) -> anyhow::Result<()> {
    if let Some(bind) = bind {
        settings.bind = bind;
    }
    let store = open_store(&settings).await?;
    let listener = TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("listening on {}", settings.bind))?;
    let local = listener.local_addr()?;
    if settings.public_url.is_none() {
        settings.public_url = Some(format!("http://{local}"));
    }
    let audit_keys = crate::audit_keys::AuditKeys::load(&settings)?;
    let app = App::new(store, settings, Arc::new(SystemClock)).with_audit_keys(audit_keys);
    if demo {
        // Secrets go to stdout this once, never to the log.
        let demo = app.sites.register_demo(&RequestContext::cli()).await?;
        print_labelled_registration(DEMO_SITE, &demo.site);
        print_labelled_registration(DEMO_ADMIN, &demo.admin);
        println!(
            "also in the Demo tenant: {DEMO_STORE} (synced just now) and {DEMO_WAREHOUSE} (behind: records waiting for hours)"
        );
    }
    tracing::info!(
        address = %local,
        database = %kendrix_store::redact_url(&app.settings.database_url),
        "kendrix-server listening"
    );
    // A line for scripts and tests that start the server on port 0.
    println!("listening on http://{local}");
    let ring = crate::keys::load(&app.settings)?;
    let app = app.with_keys(ring);
    app.configurations
        .check_master_keys()
        .await
        .map_err(anyhow::Error::msg)?;
    let upgraded = app
        .configurations
        .upgrade_sealed_values(&RequestContext::cli())
        .await?;
    if upgraded > 0 {
        tracing::info!(
            values = upgraded,
            "re-sealed secret values in the current format (binding their reveal flag)"
        );
    }
    app.serve(listener, shutdown_signal()).await?;
    Ok(())
}

/// Opens the database, which creates or upgrades its schema.
pub(super) async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    println!(
        "database {} is up to date ({})",
        kendrix_store::redact_url(&settings.database_url),
        store.backend().as_str()
    );
    Ok(())
}
