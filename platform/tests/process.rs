//! The platform as its own process: starts, serves v1 over HTTP, shuts down cleanly on SIGTERM,
//! and keeps its data across a restart.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    l.local_addr().expect("address").port()
}

fn start(db: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_jishi-platform"))
        .env("PLATFORM_ADDR", format!("127.0.0.1:{port}"))
        .env("JISHI_DB", db)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the platform binary starts")
}

async fn wait_healthy(http: &reqwest::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("platform did not become healthy on port {port}");
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    child.wait().expect("the platform exits")
}

async fn nearby_ids(http: &reqwest::Client, port: u16) -> Vec<String> {
    let body: serde_json::Value = http
        .get(format!(
            "http://127.0.0.1:{port}/v1/stores/nearby?lat=39.9088&lng=116.4605&limit=50"
        ))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    body["stores"]
        .as_array()
        .expect("stores")
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn the_platform_process_serves_stops_gracefully_and_keeps_its_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let http = reqwest::Client::new();

    let port = free_port();
    let mut child = start(&db, port);
    wait_healthy(&http, port).await;
    let first = nearby_ids(&http, port).await;
    assert!(first.len() >= 15);
    assert!(terminate(&mut child).success(), "SIGTERM is a clean exit");

    let port = free_port();
    let mut child = start(&db, port);
    wait_healthy(&http, port).await;
    let second = nearby_ids(&http, port).await;
    let _ = terminate(&mut child);
    // Same stores, same order (the clock moved a little, ETAs are not time-dependent).
    assert_eq!(first, second);
}
