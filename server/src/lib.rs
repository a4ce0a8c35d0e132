//! The BFF. It renders pages, serves static files and server functions, and proxies `/api/v1/*` to
//! the platform. It holds no business state: everything lives behind `PLATFORM_URL`.

pub mod cart_form;
pub mod client;
pub mod csrf;
pub mod edge;
pub mod embed;
pub mod lang;
pub mod live;
pub mod media;
pub mod memory;
pub mod page_cache;
pub mod plain_page;
pub mod proxy;
pub mod serve;
pub mod session;
pub mod settings;
pub mod static_files;

use std::sync::Arc;

use axum::error_handling::HandleErrorLayer;
use axum::extract::FromRef;
use axum::http::{header, HeaderName, HeaderValue};
use axum::routing::{any, get, post};
use axum::Router;
use ipnet::IpNet;
use jishi_app::platform_client::PlatformClient;
use jishi_app::{shell, App, SiteConfig};
use jishi_platform::{Platform, PlatformConfig};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::sync::{watch, Semaphore};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

pub use serve::serve;
pub use settings::{Limits, PlatformSource, Settings};

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub platform: PlatformClient,
    pub site: SiteConfig,
    pub edge: Edge,
    /// This instance's live-room fan-out.
    pub live: live::LiveHub,
    /// The media gateway's base URL (`None`: no video).
    pub media: media::MediaBase,
}

/// What the edge needs besides the platform: whom to trust, the stream slots, the limits and
/// the shutdown signal.
#[derive(Clone)]
pub struct Edge {
    pub trusted_proxies: Arc<[IpNet]>,
    pub limits: Limits,
    /// One permit per open event stream (proxied or fanned out here).
    pub streams: Arc<Semaphore>,
    /// Open event streams per client address.
    pub client_streams: jishi_platform::streams::Slots,
    /// Whether the sandbox's stand-in for a mini-program host's pay page is served: only beside
    /// the embedded platform in demo mode, never in front of a real one.
    pub sandbox: bool,
    /// Whether the platform's demo routes (`/v1/demo/…`) are forwarded: in demo mode only.
    pub demo: bool,
    pub shutdown: Shutdown,
    /// Pages anonymous shoppers share, reused for `limits.page_cache_ttl`.
    pub page_cache: page_cache::PageCache,
    /// Brands' sites the live widget is served to (`Settings::widget_origins`).
    pub widget_origins: Arc<[String]>,
}

/// What one open event stream holds: a slot of the server's cap and one of its client's.
pub struct StreamPermit {
    _server: tokio::sync::OwnedSemaphorePermit,
    _client: Option<jishi_platform::streams::Slot>,
}

impl Edge {
    /// Claims the slots for an event stream of `client`: 429 past the client address's cap
    /// (`max_streams_per_client`), 503 past the server's (`max_streams`).
    pub fn open_stream(
        &self,
        client: &client::ClientInfo,
    ) -> Result<StreamPermit, jishi_api::ApiError> {
        use jishi_api::{ApiError, ErrorCode};
        let client = match client.ip {
            Some(ip) => Some(
                self.client_streams
                    .take(&ip.to_string(), self.limits.max_streams_per_client)
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::TooManyRequests,
                            format!(
                                "这个网络同时打开的实时页面最多 {} 个，请关闭一些页面",
                                self.limits.max_streams_per_client
                            ),
                        )
                    })?,
            ),
            None => None,
        };
        // Each open stream holds file handles (the browser's, and the platform's for proxied
        // ones): refuse new ones before the process runs out, rather than failing everything else.
        let server = self
            .streams
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::new(ErrorCode::Overloaded, "实时连接太多，请稍后再试"))?;
        Ok(StreamPermit {
            _server: server,
            _client: client,
        })
    }

    /// Serves the sandbox's pay page (see `sandbox`).
    pub fn with_sandbox(mut self, on: bool) -> Self {
        self.sandbox = on;
        self
    }

    /// Serves the live widget to these origins (see `widget_origins`).
    pub fn with_widget_origins(mut self, origins: Vec<String>) -> Self {
        self.widget_origins = origins.into();
        self
    }

    /// Forwards the demo routes (see `demo`).
    pub fn with_demo(mut self, on: bool) -> Self {
        self.demo = on;
        self
    }

    pub fn new(trusted_proxies: Vec<IpNet>, limits: Limits, shutdown: Shutdown) -> Self {
        Self {
            trusted_proxies: trusted_proxies.into(),
            streams: Arc::new(Semaphore::new(limits.max_streams)),
            client_streams: jishi_platform::streams::Slots::default(),
            sandbox: false,
            demo: false,
            widget_origins: Arc::new([]),
            page_cache: page_cache::PageCache::new(limits.page_cache_ttl),
            limits,
            shutdown,
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// A shutdown signal that any number of tasks can wait for, fired once.
#[derive(Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        let (tx, rx) = watch::channel(false);
        Self {
            tx: Arc::new(tx),
            rx,
        }
    }
}

impl Shutdown {
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Resolves once `trigger` was called (at once if it already was).
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        // An error means the sender is gone, which only happens once everything is shutting down.
        let _ = rx.wait_for(|fired| *fired).await;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("embedded platform: {0}")]
    Platform(#[from] jishi_platform::PlatformError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("settings: {0}")]
    Settings(#[from] settings::SettingsError),
    #[error("http client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// A platform the server talks to: its base URL and, when embedded, the task serving it (done
/// once it has stopped after `shutdown`).
pub struct StartedPlatform {
    pub url: String,
    pub embedded: Option<tokio::task::JoinHandle<()>>,
}

/// The remote platform, or an embedded one started on a loopback port that stops when `shutdown`
/// fires.
pub async fn start_platform(
    source: &PlatformSource,
    shutdown: &Shutdown,
) -> Result<StartedPlatform, StartError> {
    match source {
        PlatformSource::Remote(url) => {
            tracing::info!(%url, "using the platform at PLATFORM_URL");
            Ok(StartedPlatform {
                url: url.clone(),
                embedded: None,
            })
        }
        PlatformSource::Embedded(config) => {
            let config: PlatformConfig = (**config).clone();
            let platform = Platform::open(config).await?;
            let stop = shutdown.clone();
            let (addr, running) = platform
                .spawn_on_loopback_until(async move { stop.wait().await })
                .await?;
            tracing::info!(%addr, "embedded platform started");
            Ok(StartedPlatform {
                url: format!("http://{addr}"),
                embedded: Some(running),
            })
        }
    }
}

/// CORS for the live widget's routes: the listed origins may read them, without credentials
/// (cookies stay on the shop's own pages); any other origin gets no CORS headers, so its page
/// cannot read them. Watching the video takes `POST`, `PATCH` (an SDP body) and `DELETE`, and
/// reads the session's `Location`.
fn widget_cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            axum::http::Method::GET,
            axum::http::Method::HEAD,
            axum::http::Method::POST,
            axum::http::Method::PATCH,
            axum::http::Method::DELETE,
        ])
        // An event stream that reconnects says where it was; an SDP answer is `application/sdp`.
        .allow_headers([
            header::CONTENT_TYPE,
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([header::LOCATION])
        .max_age(std::time::Duration::from_secs(3600))
}

pub fn router(mut state: AppState) -> Router {
    state.leptos_options = static_files::with_hashed_names_if_built(state.leptos_options);
    let routes = generate_route_list(App);
    let context = {
        let platform = state.platform.clone();
        let site = state.site.clone();
        let widget_origins = jishi_app::live::WidgetOrigins(state.edge.widget_origins.clone());
        move || {
            provide_context(platform.clone());
            provide_context(site.clone());
            // The room page reports a widget's order only to these (`?from=`).
            provide_context(widget_origins.clone());
            // A fresh nonce per response, for the CSP header and the inline hydration script.
            leptos::nonce::provide_nonce();
        }
    };
    let options = state.leptos_options.clone();
    let limits = state.edge.limits.clone();
    let not_found = static_files::not_found_page(leptos_axum::render_app_async_with_context(
        context.clone(),
        {
            let options = options.clone();
            move || shell(options.clone())
        },
    ));
    let site_files = static_files::service(&options.site_root, not_found);
    // What a brand's page on another origin loads: the widget's files, the room's stream and
    // its video (WHEP, HLS; never publishing).
    let widget = Router::new()
        .route("/api/v1/live/rooms/{id}/events", get(live::events))
        .route("/media/whep/{*rest}", any(media::forward))
        .route("/media/hls/{*rest}", get(media::forward))
        .route_service("/widget/{*path}", site_files.clone())
        .layer(widget_cors(&state.edge.widget_origins));
    let mut app = Router::new()
        .merge(widget)
        .route("/api/v1/{*path}", any(proxy::forward))
        .route("/media/{*path}", any(media::forward))
        .route("/healthz", get(edge::healthz))
        .route("/forms/cart", post(cart_form::set_quantity));
    if state.edge.sandbox {
        app = app.route(
            "/sandbox/mini-program/pay",
            get(embed::sandbox_pay_page).post(embed::sandbox_pay),
        );
    }
    app.leptos_routes_with_context(&state, routes, context, move || shell(options.clone()))
        // Files of the built site, else the app's 404 page.
        .fallback_service(site_files)
        // Inside `identify` (layers added later run first), so it sees the shopper's session.
        .layer(axum::middleware::from_fn(
            edge::per_shopper_pages_are_not_stored,
        ))
        // Also inside `identify`: only requests without a session are served from it.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            page_cache::serve_shared_pages,
        ))
        // Before the page cache, which keeps embed pages apart from the others.
        .layer(axum::middleware::from_fn(embed::mark))
        // Also before the page cache, which keeps each language's page apart.
        .layer(axum::middleware::from_fn(lang::choose_language))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client::identify,
        ))
        .layer(axum::middleware::from_fn(csrf::refuse_cross_site))
        // Pages and JSON, on the fly; the site's files are precompressed at build time.
        .layer(
            CompressionLayer::new()
                .compress_when(DefaultPredicate::new().and(static_files::NotSiteFile)),
        )
        // Pages revalidate; per-shopper ones are `no-store` (above), site files set their own.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            static_files::NO_CACHE,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        // Shed rather than queue: past `max_in_flight` requests at once, 503 with Retry-After.
        // Global: `Router::layer` wraps each route separately, and a per-route limit is no limit.
        .layer(
            tower::ServiceBuilder::new()
                .layer(HandleErrorLayer::new(edge::overloaded))
                .load_shed()
                .layer(GlobalConcurrencyLimitLayer::new(limits.max_in_flight))
                .layer(RequestBodyTimeoutLayer::new(limits.body_read_timeout)),
        )
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
