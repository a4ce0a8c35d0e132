//! What OBS does, against the gateway binary with a real Janus and ffmpeg: `POST /rtmp/{room}`
//! gives an address and this broadcast's key, a push there publishes the room and its HLS
//! plays; `DELETE` ends the broadcast and the next one has another key. Needs Janus and ffmpeg
//! (fails without them; `JISHI_SKIP_MEDIA=1` skips: see `support`).

mod support;

use std::process::Child;
use std::time::Duration;

use reqwest::Method;
use support::{media_tools, push_rtmp, start_gateway, Gateway, Ports};

/// Pushes to `obs-1` with `key` until the room is published (20 s at most); the pusher.
async fn publish_with(gw: &Gateway, key: &str) -> Child {
    // Like OBS, the pusher tries again when the listener is not up yet: the gateway answers as
    // soon as it has started ffmpeg, which takes a moment to listen.
    let target = format!("rtmp://127.0.0.1:42400/live/{key}");
    let mut push = push_rtmp(&target);
    gw.wait_publishing("obs-1", true, Duration::from_secs(20), || {
        if let Ok(Some(_)) = push.try_wait() {
            push = push_rtmp(&target);
        }
    })
    .await;
    push
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rtmp_push_with_the_broadcasts_key_publishes_the_room_and_the_next_broadcast_has_another_key(
) {
    if !media_tools() {
        return;
    }
    let gw = start_gateway("", Ports::From(42000), &[]);
    gw.healthy().await;
    let (status, ingest) = gw.call(Method::POST, "/rtmp/obs-1", &[]).await;
    assert_eq!(status, 200, "{ingest}");
    let url = ingest["rtmp_url"].as_str().expect("rtmp_url").to_owned();
    let key = ingest["stream_key"]
        .as_str()
        .expect("stream_key")
        .to_owned();
    assert!(
        url.starts_with("rtmp://") && url.ends_with(":42400/live"),
        "{ingest}"
    );
    assert!(key.len() >= 16, "{ingest}");
    // Asking again gives the same listener and key.
    let (_, again) = gw.call(Method::POST, "/rtmp/obs-1", &[]).await;
    assert_eq!(again, ingest);
    assert_eq!(gw.room("obs-1").await["rtmp_url"], url.as_str());

    let mut push = publish_with(&gw, &key).await;
    let listed = gw.playlist("obs-1", Duration::from_secs(20)).await;
    assert!(listed.contains("#EXTINF"), "{listed}");

    // The broadcast ends: the listener goes, and with it the room's RTMP publisher.
    let (status, _) = gw.call(Method::DELETE, "/rtmp/obs-1", &[]).await;
    assert_eq!(status, 200);
    gw.wait_publishing("obs-1", false, Duration::from_secs(10), || {})
        .await;
    assert_eq!(gw.room("obs-1").await["rtmp_url"], serde_json::Value::Null);
    let (status, _) = gw.call(Method::DELETE, "/rtmp/obs-1", &[]).await;
    assert_eq!(status, 404);
    let _ = push.kill();
    let _ = push.wait();

    // The next broadcast: same address, another key; the old key is refused, the new one works.
    let (status, next) = gw.call(Method::POST, "/rtmp/obs-1", &[]).await;
    assert_eq!(status, 200, "{next}");
    assert_eq!(next["rtmp_url"], url.as_str());
    let new_key = next["stream_key"].as_str().expect("stream_key").to_owned();
    assert_ne!(new_key, key);
    let old = format!("rtmp://127.0.0.1:42400/live/{key}");
    let mut stale = push_rtmp(&old);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        gw.room("obs-1").await["publishing"],
        false,
        "a push with the last broadcast's key published the room; log:\n{}",
        gw.log()
    );
    let _ = stale.kill();
    let _ = stale.wait();
    let mut push = publish_with(&gw, &new_key).await;
    let _ = push.kill();
    let _ = push.wait();
}
