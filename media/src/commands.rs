//! The command lines of the gateway's children, as plain argument lists (tested as such):
//! Janus, the demo feed, the HLS muxer and the RTMP listener. [`crate::proc::command`] turns a
//! program and its arguments into a child that dies with the gateway.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::Path;

use crate::settings::RtmpVideo;

fn args<const N: usize>(list: [&str; N]) -> impl Iterator<Item = OsString> + use<'_, N> {
    list.into_iter().map(OsString::from)
}

/// `janus -F <configs> -o`: the rendered config folder, and no colours in its log.
pub fn janus(configs: &Path) -> Vec<OsString> {
    vec!["-F".into(), configs.into(), "-o".into()]
}

/// Where an ffmpeg sends RTP to a Janus remote publisher on loopback.
fn rtp_destination(port: u16) -> String {
    format!("rtp://127.0.0.1:{port}?pkt_size=1200")
}

/// The outputs a Janus remote publisher takes on one port (SSRC = 1000 + 10 × mindex): the video
/// the caller has set up as H.264 (payload type 107, SSRC 1010), then `audio` as Opus (111, 1000).
fn rtp_to_janus(audio: &str, port: u16) -> Vec<OsString> {
    let dst = rtp_destination(port);
    let dst = dst.as_str();
    args(["-f", "rtp", "-payload_type", "107", "-ssrc", "1010", dst])
        .chain(args([
            "-map", audio, "-c:a", "libopus", "-b:a", "64k", "-ac", "2", "-ar", "48000",
        ]))
        .chain(args([
            "-application",
            "lowdelay",
            "-f",
            "rtp",
            "-payload_type",
            "111",
            "-ssrc",
            "1000",
            dst,
        ]))
        .collect()
}

/// The looping test source: testsrc2 + a 440 Hz tone, H.264 baseline (keyframe every second) and
/// Opus, as RTP to `port` with the SSRCs and payload types of `RemoteStream::av`.
pub fn demo(port: u16) -> Vec<OsString> {
    args(["-hide_banner", "-nostats", "-loglevel", "warning", "-re"])
        .chain(args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"]))
        .chain(args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
        ]))
        .chain(args([
            "-map",
            "0:v",
            "-c:v",
            "libx264",
            "-profile:v",
            "baseline",
            "-level",
            "3.1",
        ]))
        .chain(args([
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-pix_fmt",
            "yuv420p",
        ]))
        .chain(args([
            "-g",
            "25",
            "-keyint_min",
            "25",
            "-b:v",
            "800k",
            "-maxrate",
            "800k",
            "-bufsize",
            "800k",
        ]))
        .chain(rtp_to_janus("1:a", port))
        .collect()
}

/// The video copied, and the sound (when the host sends it) as AAC: one output's streams.
fn hls_streams(with_audio: bool) -> Vec<OsString> {
    let mut a: Vec<OsString> = args(["-map", "0:v", "-c:v", "copy"]).collect();
    if with_audio {
        a.extend(args([
            "-map", "0:a", "-c:a", "aac", "-b:a", "96k", "-ar", "48000",
        ]));
    }
    a
}

/// The HLS muxer: forwarded RTP (described by the SDP file `sdp`) → 1 s segments in `out`,
/// video copied, Opus → AAC when the host sends sound. Segment numbers start from the epoch, so
/// a muxer started again (another publisher) never goes back. With `record` (a part's playlist
/// and the window in seconds), the same streams also go to a part of the room's recording: 2 s
/// segments beside that playlist, each dated, the oldest deleted past the window.
pub fn hls(
    sdp: &Path,
    out: &Path,
    with_audio: bool,
    record: Option<(&Path, u32)>,
) -> Vec<OsString> {
    let mut a: Vec<OsString> = args(["-hide_banner", "-nostats", "-loglevel", "warning"])
        .chain(args([
            "-protocol_whitelist",
            "file,udp,rtp",
            "-fflags",
            "+genpts",
            "-reorder_queue_size",
            "64",
        ]))
        .chain(["-i".into(), sdp.into()])
        .collect();
    a.extend(hls_streams(with_audio));
    a.extend(args(["-f", "hls", "-hls_time", "1", "-hls_list_size", "6"]));
    a.extend(args([
        "-hls_flags",
        "delete_segments+independent_segments+program_date_time",
    ]));
    a.extend(args([
        "-hls_start_number_source",
        "epoch",
        "-hls_segment_filename",
    ]));
    a.push(out.join("seg%d.ts").into());
    a.push(out.join(jishi_api::media::HLS_PLAYLIST).into());
    if let Some((playlist, window_s)) = record {
        let dir = playlist.parent().unwrap_or(Path::new("."));
        a.extend(hls_streams(with_audio));
        a.extend(args(["-f", "hls", "-hls_time", "2", "-hls_list_size"]));
        a.push(window_s.div_ceil(2).max(1).to_string().into());
        a.extend(args([
            "-hls_flags",
            "delete_segments+independent_segments+program_date_time",
            "-hls_start_number_source",
            "epoch",
            "-hls_segment_filename",
        ]));
        a.push(dir.join("seg%d.ts").into());
        a.push(playlist.into());
    }
    a
}

/// The URL an RTMP listener binds: the stream name is the key.
pub fn rtmp_listen_url(bind: IpAddr, port: u16, key: &str) -> String {
    format!("rtmp://{bind}:{port}/live/{key}")
}

/// An RTMP listener (one client at a time; restarted after each) at `url` → RTP into the room's
/// remote publisher on `port`.
pub fn rtmp(url: &str, video: RtmpVideo, port: u16) -> Vec<OsString> {
    let mut a: Vec<OsString> = args([
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "info",
        "-listen",
        "1",
        "-i",
        url,
    ])
    .chain(args(["-map", "0:v"]))
    .collect();
    match video {
        RtmpVideo::Copy => a.extend(args(["-c:v", "copy", "-bsf:v", "h264_mp4toannexb"])),
        RtmpVideo::Transcode => {
            a.extend(args([
                "-c:v",
                "libx264",
                "-profile:v",
                "baseline",
                "-preset",
                "ultrafast",
                "-tune",
                "zerolatency",
            ]));
            a.extend(args([
                "-g", "25", "-b:v", "1500k", "-maxrate", "1500k", "-bufsize", "1500k", "-pix_fmt",
                "yuv420p",
            ]));
        }
    }
    a.extend(rtp_to_janus("0:a?", port));
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(args: &[OsString]) -> Vec<&str> {
        args.iter().map(|a| a.to_str().unwrap()).collect()
    }

    const TO_JANUS_21000: [&str; 26] = [
        "-f",
        "rtp",
        "-payload_type",
        "107",
        "-ssrc",
        "1010",
        "rtp://127.0.0.1:21000?pkt_size=1200",
        "-map",
        "AUDIO",
        "-c:a",
        "libopus",
        "-b:a",
        "64k",
        "-ac",
        "2",
        "-ar",
        "48000",
        "-application",
        "lowdelay",
        "-f",
        "rtp",
        "-payload_type",
        "111",
        "-ssrc",
        "1000",
        "rtp://127.0.0.1:21000?pkt_size=1200",
    ];

    fn to_janus(audio: &str) -> Vec<&str> {
        TO_JANUS_21000
            .iter()
            .map(|a| if *a == "AUDIO" { audio } else { a })
            .collect()
    }

    #[test]
    fn janus_runs_on_the_rendered_configs() {
        assert_eq!(
            text(&janus(Path::new("/run/jm/janus"))),
            ["-F", "/run/jm/janus", "-o"]
        );
    }

    #[test]
    fn the_demo_feed_is_a_test_picture_and_tone_as_rtp_into_janus() {
        let mut want = vec![
            "-hide_banner",
            "-nostats",
            "-loglevel",
            "warning",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-map",
            "0:v",
            "-c:v",
            "libx264",
            "-profile:v",
            "baseline",
            "-level",
            "3.1",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "25",
            "-keyint_min",
            "25",
            "-b:v",
            "800k",
            "-maxrate",
            "800k",
            "-bufsize",
            "800k",
        ];
        want.extend(to_janus("1:a"));
        assert_eq!(text(&demo(21000)), want);
    }

    #[test]
    fn the_hls_muxer_copies_video_and_makes_aac_only_when_there_is_sound() {
        let head = [
            "-hide_banner",
            "-nostats",
            "-loglevel",
            "warning",
            "-protocol_whitelist",
            "file,udp,rtp",
            "-fflags",
            "+genpts",
            "-reorder_queue_size",
            "64",
            "-i",
            "/m/hls/r1.sdp",
            "-map",
            "0:v",
            "-c:v",
            "copy",
        ];
        let audio = ["-map", "0:a", "-c:a", "aac", "-b:a", "96k", "-ar", "48000"];
        let tail = [
            "-f",
            "hls",
            "-hls_time",
            "1",
            "-hls_list_size",
            "6",
            "-hls_flags",
            "delete_segments+independent_segments+program_date_time",
            "-hls_start_number_source",
            "epoch",
            "-hls_segment_filename",
            "/m/hls/r1/seg%d.ts",
            "/m/hls/r1/index.m3u8",
        ];
        let (sdp, out) = (Path::new("/m/hls/r1.sdp"), Path::new("/m/hls/r1"));
        let with: Vec<&str> = head.iter().chain(&audio).chain(&tail).copied().collect();
        assert_eq!(text(&hls(sdp, out, true, None)), with);
        let without: Vec<&str> = head.iter().chain(&tail).copied().collect();
        assert_eq!(text(&hls(sdp, out, false, None)), without);
        // Recording too: the same streams to a second output, 2 s segments, an hour's window.
        let part = Path::new("/m/replay/r1/rec-1765100000000.m3u8");
        let recorded = hls(sdp, out, true, Some((part, 3601)));
        let recorded = text(&recorded);
        assert_eq!(recorded[..with.len()], with[..]);
        let mut second: Vec<&str> = ["-map", "0:v", "-c:v", "copy"].to_vec();
        second.extend(audio);
        second.extend([
            "-f",
            "hls",
            "-hls_time",
            "2",
            "-hls_list_size",
            "1801",
            "-hls_flags",
            "delete_segments+independent_segments+program_date_time",
            "-hls_start_number_source",
            "epoch",
            "-hls_segment_filename",
            "/m/replay/r1/seg%d.ts",
            "/m/replay/r1/rec-1765100000000.m3u8",
        ]);
        assert_eq!(recorded[with.len()..], second[..]);
    }

    #[test]
    fn the_rtmp_listener_takes_the_key_as_stream_name_and_copies_or_transcodes() {
        let url = rtmp_listen_url("0.0.0.0".parse().unwrap(), 1935, "k3y");
        assert_eq!(url, "rtmp://0.0.0.0:1935/live/k3y");
        let head = [
            "-hide_banner",
            "-nostats",
            "-loglevel",
            "info",
            "-listen",
            "1",
            "-i",
            "rtmp://0.0.0.0:1935/live/k3y",
            "-map",
            "0:v",
        ];
        let mut copy: Vec<&str> = head.to_vec();
        copy.extend(["-c:v", "copy", "-bsf:v", "h264_mp4toannexb"]);
        copy.extend(to_janus("0:a?"));
        assert_eq!(text(&rtmp(&url, RtmpVideo::Copy, 21000)), copy);
        let mut transcode: Vec<&str> = head.to_vec();
        transcode.extend([
            "-c:v",
            "libx264",
            "-profile:v",
            "baseline",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-g",
            "25",
            "-b:v",
            "1500k",
            "-maxrate",
            "1500k",
            "-bufsize",
            "1500k",
            "-pix_fmt",
            "yuv420p",
        ]);
        transcode.extend(to_janus("0:a?"));
        assert_eq!(text(&rtmp(&url, RtmpVideo::Transcode, 21000)), transcode);
    }
}
