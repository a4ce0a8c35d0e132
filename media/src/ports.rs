//! Ports and folders of one gateway, chosen so that several gateways (several shops) run on one
//! machine side by side.
//!
//! Settings given explicitly are used as given, and a port that another process holds is said
//! plainly ([`MediaError::InUse`]) instead of handing Janus a port it cannot open. For the rest:
//!
//! - Janus's HTTP API takes a free loopback port (the kernel's choice).
//! - The gateway takes the first free *instance* `n` (0–5) on the machine: a lock on
//!   `$TMPDIR/jishi-media/instance-<n>.lock`, held while it runs and let go by the kernel when it
//!   dies. Instance `n` has the WebRTC ports `20000 + 2000n … +999`, the loopback RTP ports
//!   `21000 + 2000n … +999` and the folder `$TMPDIR/jishi-media/<n>`. An instance whose ranges
//!   other programs hold (more than a quarter of the ports) is passed over.
//! - Loopback RTP ports are handed out in pairs (RTP, RTCP), each checked with a UDP bind first
//!   ([`LocalPorts`]).

use std::collections::HashSet;
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::MediaError;
use crate::settings::Settings;

/// How many gateways with default ports one machine runs at once.
pub const MAX_INSTANCES: u16 = 6;

/// Instance `n`'s WebRTC (Janus ICE) ports and loopback RTP ports.
pub fn instance_ranges(n: u16) -> ((u16, u16), (u16, u16)) {
    let base = 20000 + 2000 * n;
    ((base, base + 999), (base + 1000, base + 1999))
}

/// Whether nobody holds UDP `port` on loopback (nor on every address).
pub fn udp_free(port: u16) -> bool {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Whether a TCP listener could bind `ip:port` now.
pub fn tcp_free(ip: IpAddr, port: u16) -> bool {
    TcpListener::bind((ip, port)).is_ok()
}

/// A loopback TCP port nobody listens on (the kernel's pick).
pub fn free_loopback_tcp_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// How many ports of `range` `free` says are taken.
pub fn taken(range: (u16, u16), free: impl Fn(u16) -> bool) -> usize {
    (range.0..=range.1).filter(|p| !free(*p)).count()
}

/// Whether a range is usable: at most a quarter of it held by others.
fn mostly_free(range: (u16, u16), free: &impl Fn(u16) -> bool) -> bool {
    taken(range, free) * 4 <= usize::from(range.1 - range.0) + 1
}

/// Loopback RTP ports of one gateway: pairs (even RTP port, RTCP on the next), each port checked
/// free with `free` (a UDP bind in production) before it is handed out.
#[derive(Debug)]
pub struct LocalPorts {
    range: (u16, u16),
    used: HashSet<u16>,
}

impl LocalPorts {
    pub fn new(range: (u16, u16)) -> LocalPorts {
        LocalPorts {
            range,
            used: HashSet::new(),
        }
    }

    /// A pair neither ours nor held by anyone (`free`); both are marked used. `None`: none left.
    pub fn take_pair(&mut self, free: impl Fn(u16) -> bool) -> Option<u16> {
        let (lo, hi) = self.range;
        let mut port = lo + lo % 2;
        while port < hi {
            let pair = [port, port + 1];
            if pair.iter().all(|p| !self.used.contains(p) && free(*p)) {
                self.used.extend(pair);
                return Some(port);
            }
            port += 2;
        }
        None
    }

    /// Gives back the pairs starting at `ports`.
    pub fn release(&mut self, ports: &[u16]) {
        for p in ports {
            self.used.remove(p);
            self.used.remove(&(p + 1));
        }
    }

    pub fn in_use(&self) -> usize {
        self.used.len()
    }
}

/// What one running gateway uses: resolved from the settings at start.
#[derive(Debug)]
pub struct Layout {
    pub janus_port: u16,
    pub rtp_ports: (u16, u16),
    pub local_ports: (u16, u16),
    pub dir: PathBuf,
    /// The instance taken (`None` when every port and the folder were given).
    pub instance: Option<u16>,
    /// Held while the gateway runs: the instance's lock and the folder's.
    _locks: Vec<File>,
}

impl Layout {
    /// A layout as given, with no locks (tests; callers that arrange the ports themselves).
    pub fn fixed(
        janus_port: u16,
        rtp_ports: (u16, u16),
        local_ports: (u16, u16),
        dir: PathBuf,
    ) -> Layout {
        Layout {
            janus_port,
            rtp_ports,
            local_ports,
            dir,
            instance: None,
            _locks: Vec::new(),
        }
    }
}

/// An exclusive lock on `path` (created if need be), or `None` when another process holds it.
fn try_lock(path: &Path) -> std::io::Result<Option<File>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .or_else(|_| File::open(path))?;
    // SAFETY: flock(2) on a descriptor we own; no memory involved. (flock, not fcntl: the lock
    // belongs to this open file, so a second gateway in the same process is refused too.)
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if locked == 0 {
        return Ok(Some(file));
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(None)
    } else {
        Err(e)
    }
}

/// Chooses the ports and the folder (see the module docs). `locks` is where the instance locks
/// live (`$TMPDIR/jishi-media` in production); `udp` and `tcp` say whether a port is free.
pub fn layout_with(
    settings: &Settings,
    locks: &Path,
    udp: impl Fn(u16) -> bool,
    tcp: impl Fn(u16) -> bool,
) -> Result<Layout, MediaError> {
    let mut held = Vec::new();
    let janus_port = match settings.janus_port {
        Some(port) if !tcp(port) => {
            return Err(MediaError::InUse(format!(
                "JISHI_MEDIA_JANUS_PORT {port} is taken by another process (another shop's \
                 Janus?); unset it to take a free port"
            )))
        }
        Some(port) => port,
        None => free_loopback_tcp_port()?,
    };
    let needs_instance =
        settings.rtp_ports.is_none() || settings.local_ports.is_none() || settings.dir.is_none();
    let mut instance = None;
    if needs_instance {
        std::fs::create_dir_all(locks)?;
        for n in 0..MAX_INSTANCES {
            let (rtp, local) = instance_ranges(n);
            let usable = (settings.rtp_ports.is_some() || mostly_free(rtp, &udp))
                && (settings.local_ports.is_some() || mostly_free(local, &udp));
            if !usable {
                continue;
            }
            if let Some(lock) = try_lock(&locks.join(format!("instance-{n}.lock")))? {
                held.push(lock);
                instance = Some(n);
                break;
            }
        }
        if instance.is_none() {
            return Err(MediaError::InUse(format!(
                "{MAX_INSTANCES} media gateways already run on this machine (or their ports are \
                 taken); set JISHI_MEDIA_RTP_PORTS, JISHI_MEDIA_LOCAL_PORTS and JISHI_MEDIA_DIR"
            )));
        }
    }
    let ranges = instance.map(instance_ranges);
    let rtp_ports = settings
        .rtp_ports
        .or(ranges.map(|r| r.0))
        .unwrap_or((20000, 20999));
    let local_ports = settings
        .local_ports
        .or(ranges.map(|r| r.1))
        .unwrap_or((21000, 21999));
    if settings.local_ports.is_some() && taken(local_ports, &udp) > 0 {
        tracing::warn!(
            "JISHI_MEDIA_LOCAL_PORTS {}-{}: {} port(s) are held by other programs; they are skipped",
            local_ports.0,
            local_ports.1,
            taken(local_ports, &udp)
        );
    }
    if settings.rtp_ports.is_some() && !mostly_free(rtp_ports, &udp) {
        tracing::warn!(
            "JISHI_MEDIA_RTP_PORTS {}-{}: more than a quarter of the ports are held by other \
             programs (another gateway?)",
            rtp_ports.0,
            rtp_ports.1
        );
    }
    let dir = match (&settings.dir, instance) {
        (Some(dir), _) => {
            std::fs::create_dir_all(dir)?;
            match try_lock(&dir.join("gateway.lock"))? {
                Some(lock) => held.push(lock),
                None => {
                    return Err(MediaError::InUse(format!(
                        "JISHI_MEDIA_DIR {} is used by another running gateway",
                        dir.display()
                    )))
                }
            }
            dir.clone()
        }
        (None, Some(n)) => locks.join(n.to_string()),
        (None, None) => locks.join("0"),
    };
    Ok(Layout {
        janus_port,
        rtp_ports,
        local_ports,
        dir,
        instance,
        _locks: held,
    })
}

/// [`layout_with`] for this machine: locks under `$TMPDIR/jishi-media`, ports probed by binding.
pub fn layout(settings: &Settings) -> Result<Layout, MediaError> {
    layout_with(
        settings,
        &std::env::temp_dir().join("jishi-media"),
        udp_free,
        |p| tcp_free(IpAddr::V4(Ipv4Addr::LOCALHOST), p),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::from_vars(|_| None).unwrap()
    }

    #[test]
    fn pairs_are_even_free_and_given_back() {
        let mut ports = LocalPorts::new((21001, 21010));
        // 21002 is held by someone else: its pair is skipped.
        let held = |p: u16| p != 21003;
        assert_eq!(ports.take_pair(held), Some(21004));
        assert_eq!(ports.take_pair(held), Some(21006));
        assert_eq!(ports.take_pair(held), Some(21008));
        // 21010 has no RTCP port inside the range.
        assert_eq!(ports.take_pair(held), None);
        assert_eq!(ports.in_use(), 6);
        ports.release(&[21006]);
        assert_eq!(ports.in_use(), 4);
        assert_eq!(ports.take_pair(held), Some(21006));
        // Once the other program lets go, its pair is handed out too.
        assert_eq!(ports.take_pair(|_| true), Some(21002));
    }

    #[test]
    fn instances_have_disjoint_ranges_below_the_ephemeral_ports() {
        let mut seen: Vec<(u16, u16)> = Vec::new();
        for n in 0..MAX_INSTANCES {
            let (rtp, local) = instance_ranges(n);
            assert_eq!(rtp.1 - rtp.0 + 1, 1000);
            assert_eq!(local.1 - local.0 + 1, 1000);
            for r in [rtp, local] {
                assert!(seen.iter().all(|s| r.1 < s.0 || s.1 < r.0), "{r:?}");
                assert!(r.1 < 32768, "{r:?}");
                seen.push(r);
            }
        }
        assert_eq!(instance_ranges(0), ((20000, 20999), (21000, 21999)));
        assert_eq!(instance_ranges(1), ((22000, 22999), (23000, 23999)));
    }

    #[test]
    fn a_second_gateway_takes_the_next_instance_and_free_ports() {
        let locks = tempfile::tempdir().unwrap();
        let first = layout_with(&settings(), locks.path(), |_| true, |_| true).unwrap();
        let second = layout_with(&settings(), locks.path(), |_| true, |_| true).unwrap();
        assert_eq!(first.instance, Some(0));
        assert_eq!(second.instance, Some(1));
        assert_eq!((first.rtp_ports, first.local_ports), instance_ranges(0));
        assert_eq!((second.rtp_ports, second.local_ports), instance_ranges(1));
        assert_eq!(first.dir, locks.path().join("0"));
        assert_eq!(second.dir, locks.path().join("1"));
        assert_ne!(first.janus_port, 3288);
        assert!(tcp_free(IpAddr::V4(Ipv4Addr::LOCALHOST), first.janus_port));
        // The first stops: its instance is free again.
        drop(first);
        let third = layout_with(&settings(), locks.path(), |_| true, |_| true).unwrap();
        assert_eq!(third.instance, Some(0));
    }

    #[test]
    fn an_instance_whose_ports_other_programs_hold_is_passed_over() {
        let locks = tempfile::tempdir().unwrap();
        // Something else holds most of 21000-21999 (instance 0's loopback range).
        let udp = |p: u16| !(21000..21600).contains(&p);
        let l = layout_with(&settings(), locks.path(), udp, |_| true).unwrap();
        assert_eq!(l.instance, Some(1));
        // Nothing usable at all: said plainly.
        let err = layout_with(&settings(), locks.path(), |_| false, |_| true).unwrap_err();
        assert!(err.to_string().contains("JISHI_MEDIA_RTP_PORTS"), "{err}");
    }

    #[test]
    fn explicit_settings_are_used_as_given_and_a_taken_one_is_named() {
        let locks = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings();
        s.janus_port = Some(3288);
        s.rtp_ports = Some((40000, 40199));
        s.local_ports = Some((40200, 40399));
        s.dir = Some(dir.path().to_owned());
        let l = layout_with(&s, locks.path(), |_| true, |_| true).unwrap();
        assert_eq!(l.instance, None);
        assert_eq!(
            (l.janus_port, l.rtp_ports, l.local_ports),
            (3288, (40000, 40199), (40200, 40399))
        );
        assert_eq!(l.dir, dir.path());
        // The same folder again, while the first runs: refused, named.
        let err = layout_with(&s, locks.path(), |_| true, |_| true).unwrap_err();
        assert!(err.to_string().contains("JISHI_MEDIA_DIR"), "{err}");
        drop(l);
        // Janus's port taken by someone else: refused, named, nothing started.
        let err = layout_with(&s, locks.path(), |_| true, |p| p != 3288).unwrap_err();
        assert!(
            err.to_string()
                .contains("JISHI_MEDIA_JANUS_PORT 3288 is taken"),
            "{err}"
        );
    }
}
