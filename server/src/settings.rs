//! Everything the server reads from its environment, read once at start into one typed struct.
//! Nothing else in the server calls `std::env::var`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use jishi_app::SiteConfig;
use jishi_platform::PlatformConfig;

/// Where the platform is.
#[derive(Debug, Clone)]
pub enum PlatformSource {
    /// `PLATFORM_URL`: a platform speaking v1 somewhere else.
    Remote(String),
    /// Unset: start one in-process on a loopback port.
    Embedded(Box<PlatformConfig>),
}

/// The edge's protections against slow and greedy clients.
#[derive(Debug, Clone)]
pub struct Limits {
    /// A connection must send a complete request head within this long (slow-loris).
    pub header_read_timeout: Duration,
    /// A request body must arrive within this long.
    pub body_read_timeout: Duration,
    /// Requests being handled at once; more are shed with 503 and `Retry-After`.
    pub max_in_flight: usize,
    /// Open client connections; more are answered 503 and closed at once.
    pub max_connections: usize,
    /// Open event streams (orders, groups, live rooms); more get 503 before file handles run out.
    pub max_streams: usize,
    /// Open event streams of one client address (`JISHI_MAX_STREAMS_PER_CLIENT`); more get 429,
    /// so one machine cannot take every stream slot.
    pub max_streams_per_client: usize,
    /// How long shutdown waits for connections after streams were told to close.
    pub shutdown_grace: Duration,
    /// How long a page rendered for an anonymous shopper is reused (`JISHI_PAGE_CACHE_MS`; 0 off).
    pub page_cache_ttl: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_in_flight: 512,
            max_connections: 4096,
            max_streams: 1024,
            max_streams_per_client: jishi_api::events::MAX_STREAMS_PER_CLIENT,
            shutdown_grace: Duration::from_secs(5),
            page_cache_ttl: Duration::from_secs(1),
        }
    }
}

impl Limits {
    /// Connection and stream caps that fit within `open_files` file handles: every connection
    /// holds one, every proxied stream two (the client's and the platform's), and some are kept
    /// for the database, the log and the platform's own sockets.
    pub fn fitted_to(mut self, open_files: u64) -> Self {
        let usable = open_files.saturating_sub(RESERVED_FILES) as usize;
        self.max_connections = self.max_connections.min(usable / 2).max(1);
        self.max_streams = self.max_streams.min(usable / 4).max(1);
        self
    }
}

/// File handles kept back from the caps for everything that is not a client connection.
const RESERVED_FILES: u64 = 128;

#[derive(Debug, Clone)]
pub struct Settings {
    pub platform: PlatformSource,
    pub site: SiteConfig,
    /// Peers whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed (`TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<IpNet>,
    pub limits: Limits,
    /// Demo SMS codes: on by default only when listening on a loopback address.
    pub demo: bool,
    /// This server instance's name in viewer reports to the platform (`JISHI_INSTANCE`; random by
    /// default, so instances behind one load balancer are counted apart).
    pub instance: String,
    /// The media gateway (`JISHI_MEDIA_URL`: a URL, `none`, or unset to start one in-process).
    pub media: crate::media::MediaSource,
    /// Origins of brands' sites that embed the live widget (`JISHI_WIDGET_ORIGINS`): the widget's
    /// files and room streams are served to them with CORS, never with credentials.
    pub widget_origins: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct SettingsError {
    pub name: &'static str,
    pub problem: String,
}

impl Settings {
    /// Reads the environment (see the README's table) for a server listening on `listen`.
    pub fn from_env(listen: SocketAddr) -> Result<Self, SettingsError> {
        Self::from_lookup(listen, |name| std::env::var(name).ok())
    }

    /// Like `from_env`, with the variables from `lookup` (tests).
    pub fn from_lookup(
        listen: SocketAddr,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let demo =
            jishi_platform::demo_mode(listen.ip().is_loopback(), lookup("JISHI_DEMO").as_deref())
                .map_err(|problem| SettingsError {
                name: "JISHI_DEMO",
                problem,
            })?;
        let platform = match lookup("PLATFORM_URL") {
            Some(url) if !url.is_empty() => PlatformSource::Remote(url),
            _ => {
                // The platform's own settings (`JISHI_DB`, `JISHI_SEED`, …) are its struct's business.
                let mut config = PlatformConfig::from_env().map_err(|problem| SettingsError {
                    name: "platform",
                    problem,
                })?;
                config.demo = demo;
                PlatformSource::Embedded(Box::new(config))
            }
        };
        let mut site = SiteConfig::default();
        if let Some(url) = lookup("JISHI_TILE_URL") {
            site.tile_url = url;
        }
        if let Some(crs) = lookup("JISHI_TILE_CRS") {
            site.tile_crs = crs;
        }
        let trusted_proxies = parse_trusted_proxies(&lookup("TRUSTED_PROXIES").unwrap_or_default())
            .map_err(|problem| SettingsError {
                name: "TRUSTED_PROXIES",
                problem,
            })?;
        let mut limits = Limits::default();
        if let Some(n) = lookup("JISHI_MAX_IN_FLIGHT") {
            limits.max_in_flight = parse_count("JISHI_MAX_IN_FLIGHT", &n)?;
        }
        if let Some(n) = lookup("JISHI_MAX_STREAMS") {
            limits.max_streams = parse_count("JISHI_MAX_STREAMS", &n)?;
        }
        if let Some(n) = lookup("JISHI_MAX_STREAMS_PER_CLIENT") {
            limits.max_streams_per_client = parse_count("JISHI_MAX_STREAMS_PER_CLIENT", &n)?;
        }
        if let Some(ms) = lookup("JISHI_PAGE_CACHE_MS") {
            let ms = ms.parse::<u64>().map_err(|_| SettingsError {
                name: "JISHI_PAGE_CACHE_MS",
                problem: format!("must be a number of milliseconds (0: off), not {ms:?}"),
            })?;
            limits.page_cache_ttl = Duration::from_millis(ms);
        }
        Ok(Self {
            platform,
            site,
            trusted_proxies,
            limits,
            demo,
            instance: lookup("JISHI_INSTANCE")
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| format!("srv-{:08x}", rand::random::<u32>())),
            media: crate::media::MediaSource::from_setting(lookup("JISHI_MEDIA_URL").as_deref()),
            widget_origins: parse_origins(&lookup("JISHI_WIDGET_ORIGINS").unwrap_or_default())
                .map_err(|problem| SettingsError {
                    name: "JISHI_WIDGET_ORIGINS",
                    problem,
                })?,
        })
    }
}

fn parse_count(name: &'static str, raw: &str) -> Result<usize, SettingsError> {
    raw.parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| SettingsError {
            name,
            problem: format!("must be a positive number, not {raw:?}"),
        })
}

/// `https://brand.example, http://127.0.0.1:8080`: web origins (scheme, host and port, no path),
/// comma-separated; lowercased, as browsers send them in `Origin`.
pub fn parse_origins(raw: &str) -> Result<Vec<String>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let origin = s.to_ascii_lowercase();
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                .ok_or_else(|| format!("{s:?} is not an http(s) origin"))?;
            let host_ok = !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
            if !host_ok {
                return Err(format!(
                    "{s:?} is not an origin (scheme://host[:port], no path or trailing slash)"
                ));
            }
            Ok(origin)
        })
        .collect()
}

/// `10.0.0.1, 192.168.0.0/16, ::1`: addresses or CIDR blocks, comma-separated.
pub fn parse_trusted_proxies(raw: &str) -> Result<Vec<IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{s:?} is neither an address nor a CIDR block"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(listen: &str, vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(listen.parse().unwrap(), move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    fn embedded_demo(s: &Settings) -> bool {
        match &s.platform {
            PlatformSource::Embedded(c) => c.demo,
            PlatformSource::Remote(_) => panic!("expected the embedded platform"),
        }
    }

    #[test]
    fn widget_origins_are_origins_only() {
        assert_eq!(
            parse_origins(" https://Brand.example , http://127.0.0.1:8080 ").unwrap(),
            ["https://brand.example", "http://127.0.0.1:8080"]
        );
        assert_eq!(parse_origins("").unwrap(), Vec::<String>::new());
        for bad in [
            "brand.example",
            "https://brand.example/",
            "https://b.example/shop",
            "ftp://b.example",
            "https://",
        ] {
            assert!(parse_origins(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn demo_codes_are_on_by_default_only_on_loopback() {
        let local = settings("127.0.0.1:3000", &[]).unwrap();
        assert!(local.demo && embedded_demo(&local));
        let public = settings("0.0.0.0:3000", &[]).unwrap();
        assert!(!public.demo && !embedded_demo(&public));
        let explicit = settings("0.0.0.0:3000", &[("JISHI_DEMO", "1")]).unwrap();
        assert!(explicit.demo && embedded_demo(&explicit));
        let off = settings("127.0.0.1:3000", &[("JISHI_DEMO", "0")]).unwrap();
        assert!(!off.demo && !embedded_demo(&off));
        assert!(settings("127.0.0.1:3000", &[("JISHI_DEMO", "yes please")]).is_err());
    }

    #[test]
    fn no_map_tiles_unless_configured() {
        // The default makes no request that fails offline; a tile server is opt-in.
        assert_eq!(
            settings("127.0.0.1:3000", &[]).unwrap().site.tile_url,
            "none"
        );
        let osm = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
        let s = settings("127.0.0.1:3000", &[("JISHI_TILE_URL", osm)]).unwrap();
        assert_eq!(s.site.tile_url, osm);
    }

    #[test]
    fn trusted_proxies_are_addresses_or_blocks() {
        let nets = parse_trusted_proxies(" 10.0.0.1, 192.168.0.0/16 ,::1").unwrap();
        assert_eq!(nets.len(), 3);
        assert!(nets[1].contains(&"192.168.3.4".parse::<IpAddr>().unwrap()));
        assert!(parse_trusted_proxies("").unwrap().is_empty());
        assert!(parse_trusted_proxies("10.0.0.1, proxy.local").is_err());
    }

    #[test]
    fn caps_fit_the_file_handle_limit() {
        let limits = Limits::default().fitted_to(1024);
        // Each connection holds a handle, each stream one more upstream, plus the reserve.
        assert!(limits.max_connections + limits.max_streams + 128 <= 1024);
        assert!(limits.max_streams < limits.max_connections);
        assert_eq!(Limits::default().fitted_to(1_000_000).max_streams, 1024);
    }
}
