//! The gateway: Janus (supervised) and what it holds. This module has the state and the
//! lifecycle (start, Janus up → rooms set up again, Janus gone → everything of it forgotten,
//! shutdown); the requests are in the others:
//!
//! - `sessions`: WHIP publishers and WHEP viewers (`POST`, `PATCH`, `DELETE`, their end);
//! - `slots`: the session caps (all, per room, per client, publishers' share);
//! - `feeds`: remote publishers fed by ffmpeg (demo feed, RTMP) and the local RTP ports;
//! - `hls`: the HLS muxer per room, following the room's preferred publisher;
//! - `replay`: recordings (each muxer run writes a part), served as one VOD playlist, kept bounded;
//! - `rtmp`: the RTMP listener per room and its key;
//! - `state`: what is known between requests, and which publisher viewers get.
//!
//! Locks: `state` (a std mutex, never held across an await) has rooms, sessions and slots; `ops`
//! (an async mutex) serialises the rare changes that talk to Janus's control session: creating
//! rooms, remote publishers, forwards, and starting/stopping ffmpeg children.

mod feeds;
mod hls;
mod replay;
mod rtmp;
mod sessions;
pub mod slots;
pub mod state;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use jishi_api::media::RoomId;
use rand::distributions::Alphanumeric;
use rand::Rng;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::MediaError;
use crate::janus::{Janus, Session, VideoRoom, VIDEOROOM};
use crate::ports::{Layout, LocalPorts};
use crate::proc::{self, Line, Spec, Supervised};
use crate::settings::Settings;
use slots::{Caps, Holder};
use state::{Room, Source, State};

pub use rtmp::RTMP_IDLE;

/// How often idle RTMP listeners and recordings past their bounds are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Ops {
    control: Option<(Session, u64)>,
    next_room: u64,
    hls: HashMap<RoomId, hls::Hls>,
    demos: HashMap<RoomId, Supervised>,
    rtmp: HashMap<RoomId, rtmp::Ingest>,
    /// Ports given to Janus remote publishers: fixed per room and source for the gateway's life
    /// (Janus 1.1.2 keeps a removed remote publisher's port bound, so they are never removed).
    feed_ports: HashMap<(RoomId, u64), u16>,
    /// Loopback RTP ports (feeds, HLS forwards).
    local_ports: Option<LocalPorts>,
    demo_rooms: Vec<RoomId>,
}

enum Event {
    JanusStarted,
    JanusExited,
    Rtmp(RoomId, bool),
}

pub struct Gateway {
    settings: Arc<Settings>,
    layout: Layout,
    caps: Caps,
    janus: Janus,
    state: Mutex<State>,
    ops: tokio::sync::Mutex<Ops>,
    janus_child: Mutex<Option<Supervised>>,
    events: mpsc::UnboundedSender<Event>,
    event_loop: Mutex<Option<JoinHandle<()>>>,
    stopping: AtomicBool,
}

fn random_key(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

fn log_lines(name: String) -> Box<dyn Fn(&str) -> Line + Send + Sync> {
    Box::new(move |line: &str| {
        tracing::debug!("{name}: {line}");
        Line::Continue
    })
}

/// A slot taken for a session being set up: given back when dropped, unless the session got it
/// ([`Reservation::holder`] then moves into its `Resource`).
struct Reservation {
    gw: Arc<Gateway>,
    holder: Option<Holder>,
}

impl Reservation {
    fn holder(mut self) -> Holder {
        self.holder.take().unwrap_or(Holder::Publisher)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(holder) = self.holder.take() {
            self.gw.state().slots.give_back(&holder);
        }
    }
}

impl Gateway {
    /// Chooses the ports ([`crate::ports`]), renders Janus's config, starts Janus (supervised)
    /// and the event loop. Returns at once; rooms and demo feeds are set up when Janus answers
    /// (see [`Gateway::wait_ready`]). Fails when a port or folder the settings name is taken.
    pub async fn start(settings: Settings) -> Result<Arc<Gateway>, MediaError> {
        let layout = crate::ports::layout(&settings)?;
        Gateway::start_with(settings, layout).await
    }

    /// [`Gateway::start`] with the ports and folder chosen by the caller.
    pub async fn start_with(
        settings: Settings,
        layout: Layout,
    ) -> Result<Arc<Gateway>, MediaError> {
        std::fs::create_dir_all(layout.dir.join("hls"))?;
        let conf = crate::janus_conf::render(&settings, &layout)?;
        let demo_rooms = match (&settings.demo_rooms, &settings.platform_url) {
            (Some(rooms), _) => rooms.clone(),
            (None, Some(url)) => feeds::live_rooms(url).await,
            (None, None) => Vec::new(),
        };
        tracing::info!(
            janus_port = layout.janus_port,
            rtp_ports = ?layout.rtp_ports,
            local_ports = ?layout.local_ports,
            dir = %layout.dir.display(),
            instance = ?layout.instance,
            "media gateway starting"
        );
        let (events, rx) = mpsc::unbounded_channel();
        let gw = Arc::new(Gateway {
            janus: Janus::new(&crate::settings::janus_url(layout.janus_port)),
            caps: Caps::from_settings(&settings),
            settings: Arc::new(settings),
            state: Mutex::new(State::default()),
            ops: tokio::sync::Mutex::new(Ops {
                demo_rooms,
                next_room: 1000,
                local_ports: Some(LocalPorts::new(layout.local_ports)),
                ..Ops::default()
            }),
            layout,
            janus_child: Mutex::new(None),
            events,
            event_loop: Mutex::new(None),
            stopping: AtomicBool::new(false),
        });
        let lp = tokio::spawn(gw.clone().event_loop(rx));
        *gw.event_loop.lock().unwrap_or_else(|e| e.into_inner()) = Some(lp);

        let (bin, port) = (gw.settings.janus_bin.clone(), gw.layout.janus_port);
        let (on_start, on_exit) = (gw.events.clone(), gw.events.clone());
        let mut spec = Spec::new("janus", move || {
            proc::command(&bin, crate::commands::janus(&conf))
        });
        spec.log = Some(gw.layout.dir.join("janus.log"));
        // Janus started on a port someone else holds would talk past us (or crash): say so.
        spec.check = Some(Box::new(move || {
            if crate::ports::tcp_free(IpAddr::V4(Ipv4Addr::LOCALHOST), port) {
                Ok(())
            } else {
                Err(format!(
                    "Janus's HTTP port 127.0.0.1:{port} is taken by another process"
                ))
            }
        }));
        spec.on_start = Some(Box::new(move || {
            let _ = on_start.send(Event::JanusStarted);
        }));
        spec.on_exit = Some(Box::new(move || {
            let _ = on_exit.send(Event::JanusExited);
        }));
        *gw.janus_child.lock().unwrap_or_else(|e| e.into_inner()) = Some(Supervised::start(spec));
        Ok(gw)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The ports and folder this gateway uses.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Whether Janus answers and the rooms are set up.
    pub fn is_ready(&self) -> bool {
        self.state().ready
    }

    /// Waits until Janus is up and the demo rooms are set up (or `timeout`).
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.is_ready() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// `GET /healthz`: Janus answers its info request.
    pub async fn healthy(&self) -> bool {
        self.is_ready() && self.janus.info().await.is_ok()
    }

    /// The pids of the running children (Janus and every ffmpeg), for tests and logs.
    pub async fn child_pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self
            .janus_child
            .lock()
            .ok()
            .and_then(|c| c.as_ref().map(|c| c.pid()))
            .into_iter()
            .collect();
        let ops = self.ops.lock().await;
        pids.extend(ops.hls.values().map(|h| h.ffmpeg.pid()));
        pids.extend(ops.demos.values().map(|d| d.pid()));
        pids.extend(ops.rtmp.values().filter_map(|r| r.pid()));
        pids.retain(|p| *p != 0);
        pids
    }

    async fn event_loop(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<Event>) {
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        loop {
            let event = tokio::select! {
                e = rx.recv() => match e {
                    Some(e) => e,
                    None => break,
                },
                _ = sweep.tick() => {
                    self.stop_idle_rtmp(RTMP_IDLE).await;
                    self.prune_recordings().await;
                    continue;
                }
            };
            if self.stopping.load(Ordering::Relaxed) {
                break;
            }
            match event {
                Event::JanusStarted => {
                    let deadline = Instant::now() + Duration::from_secs(20);
                    while self.janus.info().await.is_err() && Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    if let Err(e) = self.setup().await {
                        tracing::error!("setting up rooms after janus started: {e}");
                    }
                }
                Event::JanusExited => self.reset().await,
                Event::Rtmp(room, live) => self.rtmp_client(&room, live).await,
            }
        }
    }

    /// Janus is gone: every session (and its slot), room and forward with it. Feeds (demo, RTMP)
    /// keep running: they send to fixed ports that the next Janus binds again.
    async fn reset(&self) {
        let mut ops = self.ops.lock().await;
        for r in self.state().clear() {
            r.session.forget();
        }
        ops.control = None;
        let old: Vec<hls::Hls> = ops.hls.drain().map(|(_, h)| h).collect();
        for h in old {
            feeds::release_ports(&mut ops, &h.ports);
            h.ffmpeg.stop().await;
        }
    }

    /// Janus answers: demo rooms and RTMP ingests get their rooms and remote publishers again.
    async fn setup(self: &Arc<Self>) -> Result<(), MediaError> {
        self.reset().await;
        let demo_rooms;
        {
            let mut ops = self.ops.lock().await;
            demo_rooms = ops.demo_rooms.clone();
            for room in &demo_rooms {
                self.add_feed(&mut ops, room, Source::Demo).await?;
            }
            let rtmp: Vec<RoomId> = ops.rtmp.keys().cloned().collect();
            for room in rtmp {
                self.add_feed(&mut ops, &room, Source::Rtmp).await?;
            }
        }
        self.state().ready = true;
        tracing::info!("janus ready; {} demo room(s)", demo_rooms.len());
        for room in demo_rooms {
            self.refresh_hls(&room).await;
        }
        Ok(())
    }

    async fn control(&self, ops: &mut Ops) -> Result<(Session, u64), MediaError> {
        if let Some((s, h)) = &ops.control {
            if !s.is_ended() {
                return Ok((s.clone(), *h));
            }
        }
        let session = self.janus.session().await?;
        let handle = session.attach(VIDEOROOM).await?;
        ops.control = Some((session.clone(), handle));
        Ok((session, handle))
    }

    async fn ensure_room(&self, ops: &mut Ops, room: &RoomId) -> Result<u64, MediaError> {
        if let Some(r) = self.state().rooms.get(room) {
            return Ok(r.janus_id);
        }
        ops.next_room += 1;
        let janus_id = ops.next_room;
        let (s, h) = self.control(ops).await?;
        s.message(h, &VideoRoom::create(janus_id, room.as_str()), None)
            .await?;
        self.state().rooms.insert(
            room.clone(),
            Room {
                janus_id,
                publishers: Vec::new(),
            },
        );
        Ok(janus_id)
    }

    /// Takes a session slot for `holder` (see [`slots`]), given back when the returned
    /// reservation is dropped unless a session took it over.
    fn reserve(self: &Arc<Self>, holder: Holder) -> Result<Reservation, MediaError> {
        let mut st = self.state();
        if !st.ready {
            return Err(MediaError::NotReady);
        }
        st.slots.take(&self.caps, &holder)?;
        Ok(Reservation {
            gw: self.clone(),
            holder: Some(holder),
        })
    }

    /// Stops every child (ffmpeg first, Janus last) and waits until they are reaped.
    pub async fn shutdown(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        if let Some(lp) = self.event_loop.lock().ok().and_then(|mut l| l.take()) {
            lp.abort();
        }
        let mut children: Vec<Supervised> = Vec::new();
        {
            let mut ops = self.ops.lock().await;
            children.extend(ops.hls.drain().map(|(_, h)| h.ffmpeg));
            children.extend(ops.demos.drain().map(|(_, d)| d));
            children.extend(ops.rtmp.values_mut().filter_map(|r| r.take_child()));
        }
        futures::future::join_all(children.into_iter().map(Supervised::stop)).await;
        let janus = self.janus_child.lock().ok().and_then(|mut j| j.take());
        if let Some(janus) = janus {
            janus.stop().await;
        }
        tracing::info!("children stopped");
    }
}
