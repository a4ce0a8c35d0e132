//! `jishi-server`: reads its settings, starts (or finds) the platform, and serves until
//! Ctrl-C/SIGTERM.

use jishi_app::platform_client::PlatformClient;
use jishi_server::{
    router, serve, start_platform, AppState, Edge, PlatformSource, Settings, Shutdown, StartError,
};
use leptos::prelude::get_configuration;

// Many small short-lived allocations per request from many threads: mimalloc avoids glibc's arena
// lock contention seen in profiles under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The open-file limit the server asks for; every connection and stream costs a handle.
const WANTED_OPEN_FILES: u64 = 65_536;

/// How long the server waits for its embedded platform after it stopped serving itself.
const EMBEDDED_PLATFORM_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into()),
        )
        .init();
    jishi_server::memory::no_transparent_huge_pages();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("jishi-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Raises the soft open-file limit towards the hard one where the OS allows, and returns the
/// limit in force, so the connection and stream caps fit inside it.
fn raise_open_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(WANTED_OPEN_FILES) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

async fn run() -> Result<(), StartError> {
    let conf = get_configuration(None)
        .map_err(|e| StartError::Config(format!("leptos configuration: {e}")))?;
    let leptos_options = conf.leptos_options;
    let addr = leptos_options.site_addr;
    let mut settings = Settings::from_env(addr)?;
    let open_files = raise_open_file_limit();
    settings.limits = settings.limits.fitted_to(open_files);
    tracing::info!(
        open_files,
        max_connections = settings.limits.max_connections,
        max_streams = settings.limits.max_streams,
        demo = settings.demo,
        "limits"
    );

    let shutdown = Shutdown::default();
    // Video first: an embedded platform builds playback URLs only when there is video.
    let demo_rooms: &[&str] = match &settings.platform {
        PlatformSource::Embedded(config) if !matches!(config.seed, jishi_platform::Seed::None) => {
            &jishi_platform::DEMO_ROOMS
        }
        _ => &[],
    };
    let media = jishi_server::media::start_media(&settings.media, demo_rooms, &shutdown).await;
    if let (Some(_), PlatformSource::Embedded(config)) = (&media, &mut settings.platform) {
        config.media_base.get_or_insert_with(|| "/media".to_owned());
    }
    let platform = start_platform(&settings.platform, &shutdown).await?;
    let platform_client = PlatformClient::new(&platform.url)?;
    let app = router(AppState {
        leptos_options,
        live: jishi_server::live::LiveHub::new(
            platform_client.clone(),
            settings.instance.clone(),
            shutdown.clone(),
        ),
        platform: platform_client,
        media: media.as_ref().map(|m| m.url.as_str().into()),
        site: settings.site.clone(),
        edge: Edge::new(
            settings.trusted_proxies.clone(),
            settings.limits.clone(),
            shutdown.clone(),
        )
        // The sandbox pays orders on a click: only beside the embedded platform's sandbox.
        .with_sandbox(matches!(settings.platform, PlatformSource::Embedded(_)) && settings.demo)
        .with_demo(settings.demo)
        .with_widget_origins(settings.widget_origins.clone()),
    });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!("listening on http://{local}");
    println!("即时 Jishi is running: http://{local}/");
    let signal = shutdown.clone();
    tokio::spawn(async move {
        jishi_platform::shutdown_signal().await;
        signal.trigger();
    });
    serve(listener, app, settings.limits, shutdown).await?;
    if let Some(running) = media.and_then(|m| m.embedded) {
        // Stops Janus and every ffmpeg; they must not outlive the shop.
        if tokio::time::timeout(EMBEDDED_PLATFORM_GRACE, running)
            .await
            .is_err()
        {
            tracing::warn!("the media gateway did not stop in time");
        }
    }
    if let Some(embedded) = platform.embedded {
        // The same signal stopped it; its streams have already ended, so this is short.
        if tokio::time::timeout(EMBEDDED_PLATFORM_GRACE, embedded)
            .await
            .is_err()
        {
            tracing::warn!("the embedded platform did not stop in time");
        }
    }
    tracing::info!("stopped");
    Ok(())
}
