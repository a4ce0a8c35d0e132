//! Live video through the shop: `/media/*` in front of the real media gateway (Janus). The
//! gateway caps WHEP sessions per client address, the address this server believes (its
//! `TRUSTED_PROXIES`), and keeps slots for hosts. Needs Janus and ffmpeg: fails without them;
//! `JISHI_SKIP_MEDIA=1` skips (see `jishi_media::testing`).

use std::sync::Arc;
use std::time::Duration;

use jishi_media::testing::{media_tools, whip_offer};
use jishi_media::{Gateway, Settings};
use jishi_platform::DEMO_HOSTS;
use jishi_server::{Limits, Shutdown};
use serde_json::Value;

use crate::support::*;

const ROOM: &str = "live_bj1";

/// The platform, a gateway with `live_bj1` looping its demo feed and room for 7 sessions (2 of
/// them hosts' only, 4 per client), and a server that believes `X-Forwarded-For` from loopback.
async fn spawn_video_app() -> (TestApp, Arc<Gateway>, tempfile::TempDir) {
    spawn_video_app_for(Vec::new()).await
}

/// `spawn_video_app`, serving the live widget to `widget_origins`.
async fn spawn_video_app_for(
    widget_origins: Vec<String>,
) -> (TestApp, Arc<Gateway>, tempfile::TempDir) {
    let platform = spawn_platform_with_step(jishi_platform::DEMO_DISPATCH_STEP).await;
    let dir = tempfile::tempdir().expect("a folder");
    let folder = dir.path().display().to_string();
    let settings = Settings::from_vars(|k| {
        let v = match k {
            "JISHI_MEDIA_DEMO_ROOMS" => ROOM,
            "JISHI_MEDIA_MAX_SESSIONS" => "7",
            "JISHI_MEDIA_PUBLISHER_SLOTS" => "2",
            "JISHI_MEDIA_MAX_PER_CLIENT" => "4",
            "JISHI_MEDIA_DIR" => &folder,
            _ => return None,
        };
        Some(v.to_owned())
    })
    .expect("settings");
    let gateway = Gateway::start(settings).await.expect("the gateway starts");
    assert!(
        gateway.wait_ready(Duration::from_secs(20)).await,
        "the gateway is not ready in 20 s; Janus's log:\n{}",
        std::fs::read_to_string(dir.path().join("janus.log")).unwrap_or_default()
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("binds");
    let media = format!("http://{}", listener.local_addr().expect("address"));
    let router = jishi_media::http::router(gateway.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let loopback: ipnet::IpNet = "127.0.0.1/32".parse().expect("a network");
    let edge = jishi_server::Edge::new(vec![loopback], Limits::default(), Shutdown::default())
        .with_widget_origins(widget_origins);
    let mut state = app_state(&platform, "target/site", edge, "media-test".into());
    state.media = Some(Arc::from(media.as_str()));
    let server = format!("http://{}", serve_state(state).await);
    let app = TestApp {
        platform,
        server,
        http: reqwest::Client::new(),
    };
    (app, gateway, dir)
}

/// `POST /media/whep/live_bj1` from `client` (as a proxy in front of the server says).
async fn view_from(app: &TestApp, client: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut req = app
        .http
        .post(format!("{}/media/whep/{ROOM}", app.server))
        .header("x-forwarded-for", client)
        .header("sec-fetch-site", "same-origin");
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("the server answers");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whep_is_capped_per_client_address_and_a_host_still_goes_live() {
    if !media_tools() {
        return;
    }
    let (app, gateway, _dir) = spawn_video_app().await;

    for n in 0..4 {
        let (status, body) = view_from(&app, "198.51.100.7", &[]).await;
        assert_eq!(status, 201, "viewer {n} from one address: {body}");
    }
    // The fifth from that address: 429 in the shop's error shape.
    let (status, body) = view_from(&app, "198.51.100.7", &[]).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "too_many_requests");
    assert!(body["error"]["message"].is_string(), "{body}");
    // The address is the server's to say: a client writing the gateway's header is not believed.
    let (status, _) = view_from(&app, "198.51.100.7", &[("x-jishi-client-ip", "10.9.9.9")]).await;
    assert_eq!(status, 429);
    // Another address still gets in: the fifth viewer, all that viewers may hold (7 − 2).
    let (status, body) = view_from(&app, "198.51.100.8", &[]).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = view_from(&app, "203.0.113.9", &[]).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &Value::from("busy"))
    );

    // The room's host publishes from the browser: a slot is kept for hosts.
    let mut host = Browser::new(&app);
    host.sign_in(DEMO_HOSTS[0]).await;
    let res = app
        .http
        .post(format!("{}/media/whip/{ROOM}", app.server))
        .header("cookie", host.cookie.clone().expect("signed in"))
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/sdp")
        .body(whip_offer())
        .send()
        .await
        .expect("the server answers");
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap_or_default().to_owned());
    assert_eq!(status, 201, "{}", res.text().await.unwrap_or_default());
    assert!(
        location.is_some_and(|l| l.starts_with(&format!("/media/whip/{ROOM}/"))),
        "the gateway's Location, under /media"
    );
    gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_brand_page_may_watch_but_never_publish() {
    if !media_tools() {
        return;
    }
    const BRAND: &str = "https://brand.example";
    let (app, gateway, _dir) = spawn_video_app_for(vec![BRAND.to_owned()]).await;
    let header = |res: &reqwest::Response, name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
    };

    // The preflight of the SDP answer: PATCH with a content type, allowed for the brand only.
    let preflight = |origin: &'static str| {
        app.http
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/media/whep/{ROOM}/abc", app.server),
            )
            .header("origin", origin)
            .header("access-control-request-method", "PATCH")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let res = preflight(BRAND).await.expect("answers");
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some(BRAND)
    );
    let methods = header(&res, "access-control-allow-methods").unwrap_or_default();
    assert!(
        methods.contains("PATCH") && methods.contains("DELETE"),
        "{methods}"
    );
    assert_eq!(header(&res, "access-control-allow-credentials"), None);
    let res = preflight("https://other.example").await.expect("answers");
    assert_eq!(header(&res, "access-control-allow-origin"), None);

    // Watching from the brand's page (cross-site, no cookie): an offer and a readable Location.
    let res = app
        .http
        .post(format!("{}/media/whep/{ROOM}", app.server))
        .header("origin", BRAND)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status().as_u16(), 201);
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some(BRAND)
    );
    let exposed = header(&res, "access-control-expose-headers").unwrap_or_default();
    assert!(
        exposed.to_ascii_lowercase().contains("location"),
        "{exposed}"
    );
    let location = header(&res, "location").expect("a session");
    assert!(
        location.starts_with(&format!("/media/whep/{ROOM}/")),
        "{location}"
    );
    // Ending it from there too.
    let res = app
        .http
        .delete(format!("{}{location}", app.server))
        .header("origin", BRAND)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("answers");
    assert!(res.status().is_success(), "{}", res.status());

    // Publishing stays the shop's own pages': refused before the gateway, even for the brand.
    let res = app
        .http
        .post(format!("{}/media/whip/{ROOM}", app.server))
        .header("origin", BRAND)
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/sdp")
        .body(whip_offer())
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    gateway.shutdown().await;
}
