//! For tests of the gateway and of the shop with it (the gateway itself does not use these).
//!
//! Tests that need Janus and ffmpeg call [`media_tools`]: without them the test FAILS with a
//! plain message (CI installs them with `scripts/setup.sh`); `JISHI_SKIP_MEDIA=1` skips on
//! purpose.

use std::path::Path;
use std::process::{Command, Stdio};

/// The variable that skips the tests needing Janus.
pub const SKIP: &str = "JISHI_SKIP_MEDIA";

/// `false` (skip: said on stderr) only when `JISHI_SKIP_MEDIA=1`; panics with a plain message
/// when Janus or ffmpeg is missing; else `true`.
pub fn media_tools() -> bool {
    if std::env::var(SKIP).is_ok_and(|v| v.trim() == "1") {
        eprintln!("SKIPPED: {SKIP}=1");
        return false;
    }
    assert!(
        Path::new("/usr/bin/janus").exists(),
        "Janus is not installed (/usr/bin/janus): run scripts/setup.sh (apt-get install janus), \
         or set {SKIP}=1 to skip the tests that need it"
    );
    let ffmpeg = Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        ffmpeg.map(|s| s.success()).unwrap_or(false),
        "ffmpeg is not installed: run scripts/setup.sh (apt-get install ffmpeg), or set {SKIP}=1 \
         to skip the tests that need it"
    );
    true
}

/// A complete WHIP offer as a browser sends it (Opus and H.264 42e01f, send-only, ICE gathered,
/// no trickle). Janus answers it; no media ever flows (its candidate leads nowhere), so Janus
/// ends the session when ICE fails, about a minute later.
pub fn whip_offer() -> String {
    let fingerprint = (0..32)
        .map(|i| format!("{:02X}", (i * 37 + 11) % 256))
        .collect::<Vec<_>>()
        .join(":");
    let common = format!(
        "c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:jshT\r\n\
         a=ice-pwd:jishitestpassword0123456\r\na=fingerprint:sha-256 {fingerprint}\r\n\
         a=setup:actpass\r\n"
    );
    format!(
        "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
         a=group:BUNDLE 0 1\r\na=msid-semantic: WMS cam\r\n\
         m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n{common}a=mid:0\r\na=sendonly\r\na=msid:cam mic\r\n\
         a=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
         a=ssrc:1111 cname:jishi\r\n\
         a=candidate:1 1 udp 2122260223 192.0.2.1 9 typ host\r\na=end-of-candidates\r\n\
         m=video 9 UDP/TLS/RTP/SAVPF 102\r\n{common}a=mid:1\r\na=sendonly\r\na=msid:cam video\r\n\
         a=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:102 H264/90000\r\na=rtcp-fb:102 nack\r\n\
         a=rtcp-fb:102 nack pli\r\n\
         a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
         a=ssrc:2222 cname:jishi\r\n\
         a=candidate:1 1 udp 2122260223 192.0.2.1 9 typ host\r\na=end-of-candidates\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_offer_is_an_sdp_with_opus_and_h264() {
        let offer = whip_offer();
        assert!(crate::sdp::check(offer.as_bytes()).is_ok());
        assert!(crate::sdp::has_codec(&offer, "audio", "opus"));
        assert!(crate::sdp::has_codec(&offer, "video", "H264"));
        assert_eq!(crate::sdp::candidates(&offer), 2);
    }
}
