use std::net::SocketAddr;

use jishi_app::platform_client::PlatformClient;
use jishi_app::SiteConfig;
use jishi_platform::{Clock, Platform, PlatformConfig, Seed, DEMO_SEED};
use jishi_server::{router, AppState};
use leptos::prelude::LeptosOptions;
use tokio::net::TcpListener;

pub const GUOMAO: (f64, f64) = (39.9088, 116.4605);

pub struct TestApp {
    pub platform: String,
    pub server: String,
    pub http: reqwest::Client,
}

impl TestApp {
    pub fn api(&self, path_and_query: &str) -> String {
        format!("{}/api/v1{path_and_query}", self.server)
    }
    pub fn platform_v1(&self, path_and_query: &str) -> String {
        format!("{}/v1{path_and_query}", self.platform)
    }
    pub async fn get_json(&self, url: &str) -> (u16, serde_json::Value) {
        let res = self
            .http
            .get(url)
            .send()
            .await
            .expect("request reaches the test server");
        let status = res.status().as_u16();
        let body = res.json().await.expect("a JSON body");
        (status, body)
    }
}

/// Wednesday noon in Beijing: most stores open, a few closed.
pub fn frozen_clock() -> Clock {
    Clock::fixed_from_rfc3339("2026-11-25T12:00:00+08:00").expect("a valid instant")
}

/// A platform whose dispatch simulator moves orders every `dispatch_step`.
pub async fn spawn_platform_with_step(dispatch_step: std::time::Duration) -> SocketAddr {
    let platform = Platform::open(PlatformConfig {
        database_url: "sqlite::memory:".into(),
        seed: Seed::Beijing { seed: DEMO_SEED },
        clock: frozen_clock(),
        demo: true,
        dispatch_step,
        order_limits: Default::default(),
    })
    .await
    .expect("platform opens");
    platform.spawn_on_loopback().await.expect("platform binds")
}

pub async fn spawn_server(platform_url: &str) -> SocketAddr {
    let state = AppState {
        leptos_options: LeptosOptions::builder()
            .output_name("jishi")
            .site_root("target/site")
            .build(),
        platform: PlatformClient::new(platform_url).expect("client builds"),
        site: SiteConfig::default(),
    };
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("server binds");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        axum::serve(listener, router(state))
            .await
            .expect("server runs");
    });
    addr
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with_step(jishi_platform::DEMO_DISPATCH_STEP).await
}

pub async fn spawn_app_with_step(dispatch_step: std::time::Duration) -> TestApp {
    let platform = format!("http://{}", spawn_platform_with_step(dispatch_step).await);
    let server = format!("http://{}", spawn_server(&platform).await);
    TestApp {
        platform,
        server,
        http: reqwest::Client::new(),
    }
}

/// A URL on which nothing listens: bind a port, then let it go.
pub async fn dead_url() -> String {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("binds");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{addr}")
}
