//! The little SDP handling the gateway needs: checking what it is given, summarising what it sends.

/// Largest SDP accepted (a browser offer with two m-lines and candidates is ~6 KB).
pub const MAX_SDP: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("the SDP is empty or larger than 64 KiB")]
    Size,
    #[error("the SDP does not start with v=0")]
    Version,
    #[error("the SDP has no m= line")]
    NoMedia,
    #[error("the SDP is not UTF-8 text")]
    Encoding,
}

/// Checks that `body` looks like an SDP (size, `v=0`, at least one m-line) and returns it as text.
pub fn check(body: &[u8]) -> Result<&str, SdpError> {
    if body.is_empty() || body.len() > MAX_SDP {
        return Err(SdpError::Size);
    }
    let text = std::str::from_utf8(body).map_err(|_| SdpError::Encoding)?;
    if !text.trim_start().starts_with("v=0") {
        return Err(SdpError::Version);
    }
    if !text.lines().any(|l| l.starts_with("m=")) {
        return Err(SdpError::NoMedia);
    }
    Ok(text)
}

/// One m-line: its kind (`audio`, `video`) and the codec names of its `a=rtpmap` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub kind: String,
    pub codecs: Vec<String>,
    pub candidates: usize,
}

/// The m-lines of an SDP with their codecs and ICE candidates (session-level candidates are
/// counted on the m-line before them, which does not happen in practice).
pub fn media(sdp: &str) -> Vec<Media> {
    let mut out: Vec<Media> = Vec::new();
    for line in sdp.lines().map(str::trim_end) {
        if let Some(m) = line.strip_prefix("m=") {
            out.push(Media {
                kind: m.split(' ').next().unwrap_or_default().to_owned(),
                codecs: Vec::new(),
                candidates: 0,
            });
        } else if let (Some(rtpmap), Some(cur)) = (line.strip_prefix("a=rtpmap:"), out.last_mut()) {
            if let Some(codec) = rtpmap
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.split('/').next())
            {
                cur.codecs.push(codec.to_owned());
            }
        } else if let (true, Some(cur)) = (line.starts_with("a=candidate:"), out.last_mut()) {
            cur.candidates += 1;
        }
    }
    out
}

/// Whether the SDP has an m-line of `kind` offering `codec` (case-insensitive).
pub fn has_codec(sdp: &str, kind: &str, codec: &str) -> bool {
    media(sdp)
        .iter()
        .any(|m| m.kind == kind && m.codecs.iter().any(|c| c.eq_ignore_ascii_case(codec)))
}

/// Number of `a=candidate` lines.
pub fn candidates(sdp: &str) -> usize {
    sdp.lines()
        .filter(|l| l.starts_with("a=candidate:"))
        .count()
}

/// The SDP file ffmpeg reads to receive a room's forwarded RTP (Opus on `audio_port` PT 111,
/// H.264 on `video_port` PT 96), both on loopback. No audio line for a host without sound: ffmpeg
/// would wait for audio that never comes and write no segment.
pub fn forward_sdp(name: &str, audio_port: Option<u16>, video_port: u16) -> String {
    let audio = audio_port
        .map(|port| format!("m=audio {port} RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n"))
        .unwrap_or_default();
    format!(
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns={name}\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         {audio}m=video {video_port} RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
         a=fmtp:96 packetization-mode=1\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n\
        a=candidate:1 1 udp 2122260223 192.0.2.2 20060 typ host\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 H264/90000\r\n\
        a=candidate:1 1 udp 2122260223 192.0.2.2 20060 typ host\r\na=end-of-candidates\r\n";

    #[test]
    fn checks() {
        assert_eq!(check(OFFER.as_bytes()), Ok(OFFER));
        assert_eq!(check(b""), Err(SdpError::Size));
        assert_eq!(check(&vec![b'v'; MAX_SDP + 1]), Err(SdpError::Size));
        assert_eq!(check(b"hello"), Err(SdpError::Version));
        assert_eq!(check(b"v=0\r\ns=-\r\n"), Err(SdpError::NoMedia));
        assert_eq!(check(b"v=0\r\nm=\xff"), Err(SdpError::Encoding));
    }

    #[test]
    fn summarises() {
        let m = media(OFFER);
        assert_eq!(m.len(), 2);
        assert_eq!(
            (m[0].kind.as_str(), m[0].codecs.clone(), m[0].candidates),
            ("audio", vec!["opus".to_owned()], 1)
        );
        assert_eq!(m[1].codecs, ["VP8", "H264"]);
        assert!(has_codec(OFFER, "video", "h264"));
        assert!(has_codec(OFFER, "audio", "OPUS"));
        assert!(!has_codec(OFFER, "audio", "h264"));
        assert_eq!(candidates(OFFER), 2);
    }

    #[test]
    fn forward_file() {
        let sdp = forward_sdp("room-1", Some(21000), 21002);
        assert!(sdp.contains("m=audio 21000 RTP/AVP 111"));
        assert!(sdp.contains("m=video 21002 RTP/AVP 96"));
        assert!(check(sdp.as_bytes()).is_ok());
        assert!(has_codec(&sdp, "video", "H264"));
        let silent = forward_sdp("room-1", None, 21002);
        assert!(!silent.contains("m=audio"));
        assert!(check(silent.as_bytes()).is_ok());
        assert!(has_codec(&silent, "video", "H264"));
    }
}
