//! The platform as its own process: `PLATFORM_ADDR=127.0.0.1:4000 jishi-platform`.

use jishi_platform::{demo_mode, shutdown_signal, Platform, PlatformConfig};
use tokio::net::TcpListener;

// Many small short-lived allocations per request from many threads: mimalloc avoids glibc's arena
// lock contention seen in profiles under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let mut config = PlatformConfig::from_env()?;
    let addr: std::net::SocketAddr = std::env::var("PLATFORM_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:4000".into())
        .parse()
        .map_err(|e| format!("PLATFORM_ADDR must be an address such as 127.0.0.1:4000: {e}"))?;
    config.demo = demo_mode(
        addr.ip().is_loopback(),
        std::env::var("JISHI_DEMO").ok().as_deref(),
    )?;
    let platform = Platform::open(config).await.map_err(|e| e.to_string())?;
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!("jishi-platform listening on http://{addr}/v1");
    platform
        .serve(listener, shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}
