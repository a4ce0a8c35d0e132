//! `jishi-server`: builds the router and serves it until Ctrl-C/SIGTERM.

use axum::serve::ListenerExt;
use jishi_app::platform_client::PlatformClient;
use jishi_server::{platform_url_from_env, router, site_config_from_env, AppState, StartError};
use leptos::prelude::get_configuration;

// Many small short-lived allocations per request from many threads: mimalloc avoids glibc's arena
// lock contention seen in profiles under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into()),
        )
        .init();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("jishi-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), StartError> {
    let conf = get_configuration(None)
        .map_err(|e| StartError::Config(format!("leptos configuration: {e}")))?;
    let leptos_options = conf.leptos_options;
    let addr = leptos_options.site_addr;
    let platform = PlatformClient::new(&platform_url_from_env().await?)?;
    let app = router(AppState {
        leptos_options,
        platform,
        site: site_config_from_env(),
    });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!("listening on http://{local}");
    println!("即时 Jishi is running: http://{local}/");
    axum::serve(
        listener.tap_io(jishi_platform::no_delay),
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(jishi_platform::shutdown_signal())
    .await?;
    Ok(())
}
