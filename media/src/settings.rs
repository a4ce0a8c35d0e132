//! Every environment variable the gateway reads, read once into [`Settings`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;

use crate::rooms::RoomId;

/// How RTMP video reaches Janus: re-encoded to H.264 baseline (any OBS settings work, ~1 core per
/// 720p stream) or copied (OBS must send baseline/constrained H.264 without B-frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtmpVideo {
    Transcode,
    Copy,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `MEDIA_ADDR`: where the gateway's HTTP API listens (loopback by default: it trusts its caller).
    pub addr: SocketAddr,
    /// `JISHI_MEDIA_JANUS_PORT`: Janus's HTTP API, always on 127.0.0.1.
    pub janus_port: u16,
    /// `JISHI_MEDIA_RTP_PORTS` (`lo-hi`): Janus's WebRTC media ports (open these to viewers).
    pub rtp_ports: (u16, u16),
    /// `JISHI_MEDIA_LOCAL_PORTS` (`lo-hi`): loopback UDP ports for RTP between ffmpeg and Janus
    /// (demo/RTMP feeds into Janus, Janus's forwards to the HLS muxers).
    pub local_ports: (u16, u16),
    /// `JISHI_MEDIA_RTMP_PORT`: the first RTMP listener port; each room asking for RTMP ingest gets
    /// the next one.
    pub rtmp_port: u16,
    /// `JISHI_MEDIA_RTMP_BIND`: the address RTMP listeners bind (0.0.0.0: OBS is elsewhere).
    pub rtmp_bind: IpAddr,
    /// `JISHI_MEDIA_PUBLIC_HOST`: the host put in `rtmp_url` (default: the address of `iface`).
    pub public_host: String,
    /// `JISHI_MEDIA_RTMP_VIDEO`: `transcode` (default) or `copy`.
    pub rtmp_video: RtmpVideo,
    /// `JISHI_MEDIA_DIR`: runtime directory (rendered Janus configs, Janus log, HLS output).
    pub dir: PathBuf,
    /// `JISHI_MEDIA_DEMO_ROOMS`: rooms fed a looping test source from the start. `None` when unset
    /// (then, with `PLATFORM_URL`, the platform's live rooms are used).
    pub demo_rooms: Option<Vec<RoomId>>,
    /// `PLATFORM_URL`: where to ask for the live rooms when `JISHI_MEDIA_DEMO_ROOMS` is unset.
    pub platform_url: Option<String>,
    /// `JISHI_MEDIA_IFACE`: the one network interface Janus gathers ICE candidates on (default:
    /// the interface of the default route, else the first non-loopback interface that is up).
    pub iface: Option<String>,
    /// `JISHI_MEDIA_JANUS_BIN` (default /usr/bin/janus) and `JISHI_MEDIA_FFMPEG` (default ffmpeg).
    pub janus_bin: PathBuf,
    pub ffmpeg_bin: PathBuf,
    /// `JISHI_MEDIA_JANUS_LIB`: Debian's Janus module folders live under here.
    pub janus_lib: PathBuf,
    /// `JISHI_MEDIA_MAX_VIEWERS` (per room, default 500) and `JISHI_MEDIA_MAX_SESSIONS` (all
    /// WHIP + WHEP sessions, default 2000).
    pub max_viewers_per_room: usize,
    pub max_sessions: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{name}: {problem}")]
pub struct SettingsError {
    pub name: &'static str,
    pub problem: String,
}

fn bad(name: &'static str, problem: impl Into<String>) -> SettingsError {
    SettingsError {
        name,
        problem: problem.into(),
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, SettingsError> {
        Settings::from_vars(|k| std::env::var(k).ok())
    }

    /// Reads settings through `var` (the environment in production, a map in tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let get = |k: &str| {
            var(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        fn parse<T: std::str::FromStr>(
            name: &'static str,
            v: Option<String>,
            default: T,
        ) -> Result<T, SettingsError> {
            match v {
                None => Ok(default),
                Some(s) => s
                    .parse()
                    .map_err(|_| bad(name, format!("cannot parse {s:?}"))),
            }
        }
        let addr = parse(
            "MEDIA_ADDR",
            get("MEDIA_ADDR"),
            SocketAddr::from(([127, 0, 0, 1], 3200)),
        )?;
        let janus_port = parse(
            "JISHI_MEDIA_JANUS_PORT",
            get("JISHI_MEDIA_JANUS_PORT"),
            3288,
        )?;
        let rtp_ports = match get("JISHI_MEDIA_RTP_PORTS") {
            None => (20000, 20999),
            Some(s) => parse_range(&s).ok_or_else(|| bad("JISHI_MEDIA_RTP_PORTS", s))?,
        };
        let local_ports = match get("JISHI_MEDIA_LOCAL_PORTS") {
            None => (21000, 21999),
            Some(s) => parse_range(&s).ok_or_else(|| bad("JISHI_MEDIA_LOCAL_PORTS", s))?,
        };
        if rtp_ports.0 <= local_ports.1 && local_ports.0 <= rtp_ports.1 {
            return Err(bad(
                "JISHI_MEDIA_LOCAL_PORTS",
                "overlaps JISHI_MEDIA_RTP_PORTS",
            ));
        }
        let rtmp_port = parse("JISHI_MEDIA_RTMP_PORT", get("JISHI_MEDIA_RTMP_PORT"), 1935)?;
        let rtmp_bind = parse(
            "JISHI_MEDIA_RTMP_BIND",
            get("JISHI_MEDIA_RTMP_BIND"),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        )?;
        let rtmp_video = match get("JISHI_MEDIA_RTMP_VIDEO").as_deref() {
            None | Some("transcode") => RtmpVideo::Transcode,
            Some("copy") => RtmpVideo::Copy,
            Some(other) => return Err(bad("JISHI_MEDIA_RTMP_VIDEO", other)),
        };
        let dir = get("JISHI_MEDIA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("jishi-media"));
        let demo_rooms = match var("JISHI_MEDIA_DEMO_ROOMS") {
            None => None,
            Some(list) => Some(parse_room_list(&list)?),
        };
        let platform_url = get("PLATFORM_URL").map(|u| u.trim_end_matches('/').to_owned());
        let iface = get("JISHI_MEDIA_IFACE").or_else(detect_iface);
        let public_host = get("JISHI_MEDIA_PUBLIC_HOST")
            .unwrap_or_else(|| default_route_ip().unwrap_or_else(|| "127.0.0.1".into()));
        Ok(Settings {
            addr,
            janus_port,
            rtp_ports,
            local_ports,
            rtmp_port,
            rtmp_bind,
            public_host,
            rtmp_video,
            dir,
            demo_rooms,
            platform_url,
            iface,
            janus_bin: get("JISHI_MEDIA_JANUS_BIN")
                .unwrap_or_else(|| "/usr/bin/janus".into())
                .into(),
            ffmpeg_bin: get("JISHI_MEDIA_FFMPEG")
                .unwrap_or_else(|| "ffmpeg".into())
                .into(),
            janus_lib: get("JISHI_MEDIA_JANUS_LIB")
                .unwrap_or_else(|| "/usr/lib/x86_64-linux-gnu/janus".into())
                .into(),
            max_viewers_per_room: parse(
                "JISHI_MEDIA_MAX_VIEWERS",
                get("JISHI_MEDIA_MAX_VIEWERS"),
                500,
            )?,
            max_sessions: parse(
                "JISHI_MEDIA_MAX_SESSIONS",
                get("JISHI_MEDIA_MAX_SESSIONS"),
                2000,
            )?,
        })
    }

    /// Janus's HTTP API root.
    pub fn janus_url(&self) -> String {
        format!("http://127.0.0.1:{}/janus", self.janus_port)
    }
}

/// `"20000-20999"` → `(20000, 20999)`; needs at least 16 ports, not port 0.
pub fn parse_range(s: &str) -> Option<(u16, u16)> {
    let (lo, hi) = s.split_once('-')?;
    let (lo, hi): (u16, u16) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
    (lo > 0 && hi >= lo.checked_add(15)?).then_some((lo, hi))
}

/// `"a, b,,c"` → rooms a, b, c (each a valid room id, no duplicates).
pub fn parse_room_list(list: &str) -> Result<Vec<RoomId>, SettingsError> {
    let mut rooms: Vec<RoomId> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let room = RoomId::parse(part)
            .map_err(|_| bad("JISHI_MEDIA_DEMO_ROOMS", format!("bad room id {part:?}")))?;
        if !rooms.contains(&room) {
            rooms.push(room);
        }
    }
    Ok(rooms)
}

/// The interface of the default IPv4 route (`/proc/net/route`), else the first interface in
/// `/sys/class/net` that is up and not loopback.
pub fn detect_iface() -> Option<String> {
    if let Ok(table) = std::fs::read_to_string("/proc/net/route") {
        if let Some(iface) = default_route_iface(&table) {
            return Some(iface);
        }
    }
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != "lo")
        .filter(|n| {
            std::fs::read_to_string(format!("/sys/class/net/{n}/operstate"))
                .map(|s| s.trim() == "up")
                .unwrap_or(false)
        })
        .collect();
    names.sort();
    names.into_iter().next()
}

/// The interface whose destination is 0.0.0.0 in a `/proc/net/route` table.
pub fn default_route_iface(table: &str) -> Option<String> {
    table.lines().skip(1).find_map(|line| {
        let mut cols = line.split_whitespace();
        let (iface, dest) = (cols.next()?, cols.next()?);
        (dest == "00000000" && iface != "lo").then(|| iface.to_owned())
    })
}

/// The local address the kernel would send from on the default route (a UDP "connect" sends
/// nothing).
fn default_route_ip() -> Option<String> {
    let sock = UdpSocket::bind("0.0.0.0:0").ok()?;
    sock.connect("198.51.100.1:9").ok()?;
    let ip = sock.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then(|| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_vars(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let s = from(&[]).unwrap();
        assert_eq!(s.addr, "127.0.0.1:3200".parse().unwrap());
        assert_eq!(s.janus_port, 3288);
        assert_eq!(s.rtp_ports, (20000, 20999));
        assert_eq!(s.rtmp_video, RtmpVideo::Transcode);
        assert!(s.demo_rooms.is_none());
        assert_eq!(s.janus_url(), "http://127.0.0.1:3288/janus");
    }

    #[test]
    fn values_and_errors() {
        let s = from(&[
            ("MEDIA_ADDR", "127.0.0.1:4000"),
            ("JISHI_MEDIA_DEMO_ROOMS", " demo-1, demo_2 ,,demo-1"),
            ("PLATFORM_URL", "http://127.0.0.1:3100/"),
            ("JISHI_MEDIA_RTMP_VIDEO", "copy"),
        ])
        .unwrap();
        assert_eq!(s.addr.port(), 4000);
        let rooms: Vec<&str> = s
            .demo_rooms
            .as_ref()
            .unwrap()
            .iter()
            .map(|r| r.as_str())
            .collect();
        assert_eq!(rooms, ["demo-1", "demo_2"]);
        assert_eq!(s.platform_url.as_deref(), Some("http://127.0.0.1:3100"));
        assert_eq!(s.rtmp_video, RtmpVideo::Copy);
        // Set but empty: no demo rooms (and no platform fallback).
        assert_eq!(
            from(&[("JISHI_MEDIA_DEMO_ROOMS", "")]).unwrap().demo_rooms,
            Some(vec![])
        );
        assert_eq!(
            from(&[("JISHI_MEDIA_DEMO_ROOMS", "a/b")]).unwrap_err().name,
            "JISHI_MEDIA_DEMO_ROOMS"
        );
        assert_eq!(
            from(&[("MEDIA_ADDR", "nope")]).unwrap_err().name,
            "MEDIA_ADDR"
        );
        assert_eq!(
            from(&[("JISHI_MEDIA_LOCAL_PORTS", "20500-20600")])
                .unwrap_err()
                .name,
            "JISHI_MEDIA_LOCAL_PORTS"
        );
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("20000-20200"), Some((20000, 20200)));
        assert_eq!(parse_range(" 1 - 16 "), Some((1, 16)));
        assert_eq!(parse_range("20000-20001"), None);
        assert_eq!(parse_range("0-100"), None);
        assert_eq!(parse_range("20000"), None);
        assert_eq!(parse_range("65530-65535"), None);
    }

    #[test]
    fn default_route() {
        let table = "Iface\tDestination\tGateway\tFlags\n\
                     eth1\t0002000A\t00000000\t0001\n\
                     eth0\t00000000\t010200C0\t0003\n";
        assert_eq!(default_route_iface(table).as_deref(), Some("eth0"));
        assert_eq!(default_route_iface("Iface\tDestination\n"), None);
    }
}
