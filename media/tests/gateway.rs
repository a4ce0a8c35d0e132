//! The gateway binary with a real Janus and ffmpeg: demo room → WHEP offer, HLS, errors, the
//! session caps, two gateways on one machine, and no child left after SIGTERM. Needs Janus and
//! ffmpeg (fails without them; `JISHI_SKIP_MEDIA=1` skips: see `support`).

mod support;

use std::time::{Duration, Instant};

use jishi_media::sdp;
use reqwest::Method;
use support::{alive_as, children, media_tools, start_gateway, whip_offer, Ports};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_room_whep_hls_errors_and_clean_shutdown() {
    if !media_tools() {
        return;
    }
    let mut gw = start_gateway("demo-1", Ports::From(41000), &[]);
    let started = Instant::now();
    gw.healthy().await;

    // WHEP (server offer): 201, Location, an offer with H.264 video, Opus audio, candidates.
    let t = Instant::now();
    let res = gw.http.post(gw.url("/whep/demo-1")).send().await.unwrap();
    let setup_ms = t.elapsed().as_millis();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["content-type"], "application/sdp");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/whep/demo-1/"), "{location}");
    let offer = res.text().await.unwrap();
    assert!(sdp::has_codec(&offer, "video", "H264"), "{offer}");
    assert!(sdp::has_codec(&offer, "audio", "opus"), "{offer}");
    assert!(sdp::candidates(&offer) >= 1, "{offer}");
    eprintln!("whep offer in {setup_ms} ms");
    let room = gw.room("demo-1").await;
    assert_eq!(room["publishing"], true);
    assert_eq!(room["viewers"], 1);
    assert_eq!(room["rtmp_url"], serde_json::Value::Null);
    // A PATCH that is not SDP is refused; DELETE ends the viewer.
    let res = gw
        .http
        .patch(gw.url(&location))
        .header("content-type", "text/plain")
        .body("v=0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    for expected in [200, 404] {
        let (status, _) = gw.call(Method::DELETE, &location, &[]).await;
        assert_eq!(status, expected);
    }

    // Unknown room, bad room id, no HLS for it: JSON errors.
    let (status, body) = gw.call(Method::POST, "/whep/no-such-room", &[]).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["message"].is_string());
    let (status, body) = gw.call(Method::POST, "/whep/bad.id", &[]).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_request");
    let (status, _) = gw
        .call(Method::GET, "/hls/no-such-room/index.m3u8", &[])
        .await;
    assert_eq!(status, 404);
    let res = gw
        .http
        .post(gw.url("/whip/room-1"))
        .header("content-type", "application/sdp")
        .body("not sdp")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // HLS: a playlist with at least 2 segments within 15 s of the start.
    let playlist = gw.playlist("demo-1", Duration::from_secs(15)).await;
    eprintln!(
        "hls: 2 segments {} ms after start",
        started.elapsed().as_millis()
    );
    let segment = playlist.lines().rfind(|l| l.ends_with(".ts")).unwrap();
    let res = gw
        .http
        .get(gw.url(&format!("/hls/demo-1/{segment}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "video/mp2t");
    assert!(res.bytes().await.unwrap().len() > 1000);

    // SIGTERM: the gateway exits and takes Janus and every ffmpeg with it.
    let pid = gw.child.id();
    let kids = children(pid);
    assert!(kids.iter().any(|(_, c)| c == "janus"), "{kids:?}");
    assert!(
        kids.iter().filter(|(_, c)| c == "ffmpeg").count() >= 2,
        "{kids:?}"
    );
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let t = Instant::now();
    let status = loop {
        if let Some(s) = gw.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "gateway did not exit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    eprintln!("exited {} ms after SIGTERM", t.elapsed().as_millis());
    tokio::time::sleep(Duration::from_millis(200)).await;
    for (kid, comm) in &kids {
        assert!(!alive_as(*kid, comm), "{comm} {kid} outlived the gateway");
    }
}

/// Viewers from one address hold 4 WHEP sessions at most (then 429); other addresses still get
/// in; viewers never take the publishers' slots, so a host still goes live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whep_is_capped_per_client_and_hosts_keep_their_slots() {
    if !media_tools() {
        return;
    }
    let gw = start_gateway(
        "demo-2",
        Ports::From(43000),
        &[
            ("JISHI_MEDIA_MAX_SESSIONS", "7"),
            ("JISHI_MEDIA_PUBLISHER_SLOTS", "2"),
            ("JISHI_MEDIA_MAX_PER_CLIENT", "4"),
        ],
    );
    gw.healthy().await;
    let from = |ip: &'static str| [("x-jishi-client-ip", ip)];
    let mut a_sessions = Vec::new();
    for n in 0..4 {
        let res = gw
            .http
            .post(gw.url("/whep/demo-2"))
            .header("x-jishi-client-ip", "198.51.100.7")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "viewer {n} from A");
        a_sessions.push(res.headers()["location"].to_str().unwrap().to_owned());
    }
    let (status, body) = gw
        .call(Method::POST, "/whep/demo-2", &from("198.51.100.7"))
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "too_many_requests");
    // Another address still gets in: the 5th viewer, all that viewers may hold (7 − 2).
    let (status, body) = gw
        .call(Method::POST, "/whep/demo-2", &from("198.51.100.8"))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = gw
        .call(Method::POST, "/whep/demo-2", &from("203.0.113.9"))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "busy");
    // One of A's sessions ends: A may have one again.
    let (status, _) = gw.call(Method::DELETE, &a_sessions[0], &[]).await;
    assert_eq!(status, 200);
    let (status, body) = gw
        .call(Method::POST, "/whep/demo-2", &from("198.51.100.7"))
        .await;
    assert_eq!(status, 201, "{body}");
    // A host still goes live: a publisher's slot is kept.
    let res = gw
        .http
        .post(gw.url("/whip/demo-2"))
        .header("content-type", "application/sdp")
        .body(whip_offer())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

/// A second gateway with default ports on a machine where one runs: each takes its own free
/// ports and folder, and both serve video (before, the second's Janus found 3288 and 20000+
/// taken and was restarted without end).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_machine_both_serve() {
    if !media_tools() {
        return;
    }
    let first = start_gateway("shop-1", Ports::Free, &[]);
    first.healthy().await;
    let second = start_gateway("shop-1", Ports::Free, &[]);
    second.healthy().await;
    for gw in [&first, &second] {
        let (status, body) = gw.call(Method::POST, "/whep/shop-1", &[]).await;
        assert_eq!(status, 201, "{body}; log:\n{}", gw.log());
        gw.playlist("shop-1", Duration::from_secs(20)).await;
    }
    // Janus was started once in each (no restarts).
    for gw in [&first, &second] {
        let log = gw.log();
        assert_eq!(log.matches("janus ready").count(), 1, "{log}");
    }
}
