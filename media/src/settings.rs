//! Every environment variable the gateway reads, read once into [`Settings`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;

use jishi_api::media::RoomId;

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
    /// `JISHI_MEDIA_JANUS_PORT`: Janus's HTTP API, always on 127.0.0.1. `None` (unset): a free
    /// port taken at start.
    pub janus_port: Option<u16>,
    /// `JISHI_MEDIA_RTP_PORTS` (`lo-hi`): Janus's WebRTC media ports (open these to viewers).
    /// `None` (unset): the range of the gateway's instance on this machine (see [`crate::ports`]).
    pub rtp_ports: Option<(u16, u16)>,
    /// `JISHI_MEDIA_LOCAL_PORTS` (`lo-hi`): loopback UDP ports for RTP between ffmpeg and Janus
    /// (demo/RTMP feeds into Janus, Janus's forwards to the HLS muxers). `None`: the instance's.
    pub local_ports: Option<(u16, u16)>,
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
    /// `None`: `$TMPDIR/jishi-media/<instance>`.
    pub dir: Option<PathBuf>,
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
    /// `JISHI_MEDIA_MAX_PER_CLIENT` (default 4): WHEP sessions one client address holds at once
    /// (IPv6: one /64); `0`: no cap. Past it `429`; the player then uses HLS, which holds no
    /// session, so viewers sharing one address (an office, a carrier's NAT) still watch.
    pub max_per_client: usize,
    /// `JISHI_MEDIA_PUBLISHER_SLOTS` (default a twentieth of the sessions, at least 1): sessions
    /// viewers may not take, so a host can always go live.
    pub publisher_slots: usize,
    /// Recordings (回放): where, how much and for how long.
    pub replay: ReplaySettings,
}

/// Each broadcast is recorded beside its live HLS. Disk use is bounded twice: a room keeps at
/// most its last `window_s` seconds, and all recordings together at most `max_mb` (the oldest go
/// first); none is kept past `keep_days`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySettings {
    /// `JISHI_REPLAY_DIR`. `None`: `replay/` in the gateway's folder.
    pub dir: Option<PathBuf>,
    /// `JISHI_REPLAY_WINDOW_S` (default 7200, two hours): the most of one room kept; `0`: no
    /// recording at all.
    pub window_s: u32,
    /// `JISHI_REPLAY_KEEP_DAYS` (default 7): a recording is deleted this long after its last write.
    pub keep_days: u32,
    /// `JISHI_REPLAY_MAX_MB` (default 2048): all recordings together.
    pub max_mb: u64,
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
        let janus_port = get("JISHI_MEDIA_JANUS_PORT")
            .map(|p| match p.parse::<u16>() {
                Ok(port) if port > 0 => Ok(port),
                _ => Err(bad("JISHI_MEDIA_JANUS_PORT", format!("cannot parse {p:?}"))),
            })
            .transpose()?;
        let range = |name: &'static str| {
            get(name)
                .map(|s| parse_range(&s).ok_or_else(|| bad(name, s)))
                .transpose()
        };
        let rtp_ports = range("JISHI_MEDIA_RTP_PORTS")?;
        let local_ports = range("JISHI_MEDIA_LOCAL_PORTS")?;
        if let (Some(rtp), Some(local)) = (rtp_ports, local_ports) {
            if rtp.0 <= local.1 && local.0 <= rtp.1 {
                return Err(bad(
                    "JISHI_MEDIA_LOCAL_PORTS",
                    "overlaps JISHI_MEDIA_RTP_PORTS",
                ));
            }
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
        let dir = get("JISHI_MEDIA_DIR").map(PathBuf::from);
        let max_sessions = parse(
            "JISHI_MEDIA_MAX_SESSIONS",
            get("JISHI_MEDIA_MAX_SESSIONS"),
            2000,
        )?;
        let publisher_slots = parse(
            "JISHI_MEDIA_PUBLISHER_SLOTS",
            get("JISHI_MEDIA_PUBLISHER_SLOTS"),
            (max_sessions / 20).max(1),
        )?;
        if publisher_slots == 0 || publisher_slots >= max_sessions {
            return Err(bad(
                "JISHI_MEDIA_PUBLISHER_SLOTS",
                "must be at least 1 and fewer than JISHI_MEDIA_MAX_SESSIONS",
            ));
        }
        let demo_rooms = match var("JISHI_MEDIA_DEMO_ROOMS") {
            None => None,
            Some(list) => Some(parse_room_list(&list)?),
        };
        let replay = ReplaySettings {
            dir: get("JISHI_REPLAY_DIR").map(PathBuf::from),
            window_s: parse("JISHI_REPLAY_WINDOW_S", get("JISHI_REPLAY_WINDOW_S"), 7200)?,
            keep_days: parse("JISHI_REPLAY_KEEP_DAYS", get("JISHI_REPLAY_KEEP_DAYS"), 7)?,
            max_mb: parse("JISHI_REPLAY_MAX_MB", get("JISHI_REPLAY_MAX_MB"), 2048)?,
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
            max_sessions,
            max_per_client: parse(
                "JISHI_MEDIA_MAX_PER_CLIENT",
                get("JISHI_MEDIA_MAX_PER_CLIENT"),
                4,
            )?,
            publisher_slots,
            replay,
        })
    }
}

/// Janus's HTTP API root on loopback `port`.
pub fn janus_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/janus")
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
        // Ports and folder unset: chosen at start (crate::ports), so two gateways never clash.
        assert_eq!(s.janus_port, None);
        assert_eq!(s.rtp_ports, None);
        assert_eq!(s.local_ports, None);
        assert_eq!(s.dir, None);
        assert_eq!(s.rtmp_video, RtmpVideo::Transcode);
        assert!(s.demo_rooms.is_none());
        assert_eq!(janus_url(3288), "http://127.0.0.1:3288/janus");
        assert_eq!((s.max_sessions, s.max_viewers_per_room), (2000, 500));
        assert_eq!((s.max_per_client, s.publisher_slots), (4, 100));
        assert_eq!(
            s.replay,
            ReplaySettings {
                dir: None,
                window_s: 7200,
                keep_days: 7,
                max_mb: 2048
            }
        );
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
            from(&[
                ("JISHI_MEDIA_RTP_PORTS", "20000-20999"),
                ("JISHI_MEDIA_LOCAL_PORTS", "20500-20600")
            ])
            .unwrap_err()
            .name,
            "JISHI_MEDIA_LOCAL_PORTS"
        );
        let s = from(&[
            ("JISHI_MEDIA_JANUS_PORT", "4321"),
            ("JISHI_MEDIA_RTP_PORTS", "30000-30099"),
            ("JISHI_MEDIA_DIR", "/tmp/jm"),
            ("JISHI_MEDIA_MAX_SESSIONS", "10"),
            ("JISHI_MEDIA_MAX_PER_CLIENT", "0"),
        ])
        .unwrap();
        assert_eq!(s.janus_port, Some(4321));
        assert_eq!(s.rtp_ports, Some((30000, 30099)));
        assert_eq!(s.dir.as_deref(), Some(std::path::Path::new("/tmp/jm")));
        assert_eq!(
            (s.max_sessions, s.publisher_slots, s.max_per_client),
            (10, 1, 0)
        );
        assert_eq!(
            from(&[("JISHI_MEDIA_JANUS_PORT", "0")]).unwrap_err().name,
            "JISHI_MEDIA_JANUS_PORT"
        );
        for slots in ["0", "10"] {
            assert_eq!(
                from(&[
                    ("JISHI_MEDIA_MAX_SESSIONS", "10"),
                    ("JISHI_MEDIA_PUBLISHER_SLOTS", slots)
                ])
                .unwrap_err()
                .name,
                "JISHI_MEDIA_PUBLISHER_SLOTS"
            );
        }
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
