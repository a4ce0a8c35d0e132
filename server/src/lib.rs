//! The BFF. It renders pages, serves static files and server functions, and proxies `/api/v1/*` to
//! the platform. It holds no business state: everything lives behind `PLATFORM_URL`.

pub mod csrf;
pub mod proxy;
pub mod session;

use axum::extract::FromRef;
use axum::routing::{any, get};
use axum::Router;
use jishi_app::platform_client::PlatformClient;
use jishi_app::{shell, App, SiteConfig};
use jishi_platform::{Platform, PlatformConfig};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub platform: PlatformClient,
    pub site: SiteConfig,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("embedded platform: {0}")]
    Platform(#[from] jishi_platform::PlatformError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("http client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Where the platform is: `PLATFORM_URL` if set, else an embedded one started on a loopback port
/// (configured by `JISHI_DB`, `JISHI_SEED`, `JISHI_NOW`; see `PlatformConfig::from_env`).
pub async fn platform_url_from_env() -> Result<String, StartError> {
    if let Ok(url) = std::env::var("PLATFORM_URL") {
        tracing::info!(%url, "using the platform at PLATFORM_URL");
        return Ok(url);
    }
    let config = PlatformConfig::from_env().map_err(StartError::Config)?;
    let addr = Platform::open(config).await?.spawn_on_loopback().await?;
    tracing::info!(%addr, "embedded platform started");
    Ok(format!("http://{addr}"))
}

/// `JISHI_TILE_URL` (empty or `none`: no tiles) and `JISHI_TILE_CRS` (`wgs84` | `gcj02`).
pub fn site_config_from_env() -> SiteConfig {
    let mut site = SiteConfig::default();
    if let Ok(url) = std::env::var("JISHI_TILE_URL") {
        site.tile_url = url;
    }
    if let Ok(crs) = std::env::var("JISHI_TILE_CRS") {
        site.tile_crs = crs;
    }
    site
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context = {
        let platform = state.platform.clone();
        let site = state.site.clone();
        move || {
            provide_context(platform.clone());
            provide_context(site.clone());
            // A fresh nonce per response, for the CSP header and the inline hydration script.
            leptos::nonce::provide_nonce();
        }
    };
    let options = state.leptos_options.clone();
    Router::new()
        .route("/api/v1/{*path}", any(proxy::forward))
        .route("/healthz", get(|| async { "ok" }))
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .layer(axum::middleware::from_fn(csrf::refuse_cross_site))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
