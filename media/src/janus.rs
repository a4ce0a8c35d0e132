//! A client for Janus's HTTP API (`janus.transport.http`) and its VideoRoom plugin.
//!
//! One [`Session`] is one Janus session with its own long-poll task (`GET /janus/<s>?maxev=10`),
//! which both receives the session's events and keeps it alive (Janus's `session_timeout`).
//! Requests carry a random transaction; the waiter is registered before the request is posted,
//! because an asynchronous plugin event can arrive (on the long poll) before the HTTP `ack`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{oneshot, watch};

/// How long one request (and its asynchronous answer) may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Janus holds a long poll for 30 s when there is nothing to say.
const POLL_TIMEOUT: Duration = Duration::from_secs(45);

pub const VIDEOROOM: &str = "janus.plugin.videoroom";

#[derive(Debug, thiserror::Error)]
pub enum JanusError {
    #[error("janus is unreachable: {0}")]
    Http(#[from] reqwest::Error),
    /// A core error (`{"janus":"error","error":{code,reason}}`), e.g. 458 no such session, 465/466
    /// bad JSEP/SDP.
    #[error("janus error {code}: {reason}")]
    Janus { code: i64, reason: String },
    /// A VideoRoom error (`error_code` in the plugin data), e.g. 426 no such room.
    #[error("videoroom error {code}: {reason}")]
    Plugin { code: i64, reason: String },
    #[error("janus did not answer in time")]
    Timeout,
    #[error("the janus session is closed")]
    SessionClosed,
    #[error("unexpected janus answer: {0}")]
    Protocol(String),
}

/// Core error codes the gateway cares about.
pub mod codes {
    pub const SESSION_NOT_FOUND: i64 = 458;
    pub const JSEP_UNKNOWN_TYPE: i64 = 465;
    pub const JSEP_INVALID_SDP: i64 = 466;
    /// VideoRoom: the room exists already.
    pub const ROOM_EXISTS: i64 = 427;
}

/// An SDP with its type, as Janus takes and gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jsep {
    #[serde(rename = "type")]
    pub kind: String,
    pub sdp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trickle: Option<bool>,
}

impl Jsep {
    /// A complete (non-trickle) offer or answer: the browser gathered its candidates first.
    pub fn complete(kind: &str, sdp: &str) -> Jsep {
        Jsep {
            kind: kind.to_owned(),
            sdp: sdp.to_owned(),
            trickle: Some(false),
        }
    }
}

#[derive(Serialize)]
struct Envelope<'a, B: Serialize> {
    janus: &'static str,
    transaction: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    plugin: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a B>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jsep: Option<&'a Jsep>,
}

#[derive(Debug, Clone, Deserialize)]
struct ErrorInfo {
    code: i64,
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Clone, Deserialize)]
struct IdData {
    id: u64,
}

#[derive(Debug, Clone, Deserialize)]
struct PluginData {
    #[serde(default)]
    data: Value,
}

/// Any message from Janus: replies, acks and events.
#[derive(Debug, Clone, Deserialize)]
struct Incoming {
    janus: String,
    #[serde(default)]
    transaction: Option<String>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    error: Option<ErrorInfo>,
    #[serde(default)]
    plugindata: Option<PluginData>,
    #[serde(default)]
    jsep: Option<Jsep>,
    #[serde(default)]
    reason: Option<String>,
}

impl Incoming {
    fn into_result(self) -> Result<Incoming, JanusError> {
        match (self.janus.as_str(), &self.error) {
            ("error", Some(e)) => Err(JanusError::Janus {
                code: e.code,
                reason: e.reason.clone(),
            }),
            ("error", None) => Err(JanusError::Protocol("error without details".into())),
            _ => Ok(self),
        }
    }
}

/// A plugin's answer: its data (errors already turned into [`JanusError::Plugin`]) and any JSEP.
#[derive(Debug, Clone)]
pub struct PluginReply {
    pub data: Value,
    pub jsep: Option<Jsep>,
}

impl PluginReply {
    fn from_incoming(m: Incoming) -> Result<PluginReply, JanusError> {
        let data = m
            .plugindata
            .map(|p| p.data)
            .ok_or_else(|| JanusError::Protocol(format!("{} without plugindata", m.janus)))?;
        if let Some(code) = data.get("error_code").and_then(Value::as_i64) {
            let reason = data
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            return Err(JanusError::Plugin { code, reason });
        }
        Ok(PluginReply { data, jsep: m.jsep })
    }

    /// Deserialises the plugin data as `T`.
    pub fn parse<T: for<'de> Deserialize<'de>>(&self) -> Result<T, JanusError> {
        T::deserialize(&self.data).map_err(|e| JanusError::Protocol(format!("{e}: {}", self.data)))
    }
}

/// The typed VideoRoom requests the gateway sends.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum VideoRoom {
    Create {
        room: u64,
        description: String,
        publishers: u32,
        bitrate: u32,
        fir_freq: u32,
        audiocodec: &'static str,
        videocodec: &'static str,
        h264_profile: &'static str,
        permanent: bool,
    },
    Joinandconfigure {
        room: u64,
        ptype: &'static str,
        display: String,
        audio: bool,
        video: bool,
    },
    Join {
        room: u64,
        ptype: &'static str,
        streams: Vec<Feed>,
    },
    Start {},
    AddRemotePublisher {
        room: u64,
        id: u64,
        display: String,
        iface: &'static str,
        port: u16,
        streams: Vec<RemoteStream>,
    },
    RtpForward {
        room: u64,
        publisher_id: u64,
        host: &'static str,
        streams: Vec<ForwardTo>,
    },
    StopRtpForward {
        room: u64,
        publisher_id: u64,
        stream_id: u64,
    },
    Listparticipants {
        room: u64,
    },
}

impl VideoRoom {
    /// A room as the shop needs it: H.264 constrained baseline (what every browser decodes and
    /// HLS can copy), Opus, a keyframe request every second (fast viewer start, short HLS
    /// segments).
    pub fn create(room: u64, description: &str) -> VideoRoom {
        VideoRoom::Create {
            room,
            description: description.chars().take(64).collect(),
            publishers: 6,
            bitrate: 2_000_000,
            fir_freq: 1,
            audiocodec: "opus",
            videocodec: "h264",
            h264_profile: "42e01f",
            permanent: false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Feed {
    pub feed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RemoteStream {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub mindex: u32,
    pub mid: String,
    pub codec: &'static str,
}

impl RemoteStream {
    /// The two streams of a remote publisher fed by ffmpeg on one port: Opus (mindex 0, SSRC
    /// 1000, PT 111) and H.264 (mindex 1, SSRC 1010, PT 107). Janus tells them apart by SSRC
    /// (1000 + mindex × 10).
    pub fn av() -> Vec<RemoteStream> {
        vec![
            RemoteStream {
                kind: "audio",
                mindex: 0,
                mid: "0".into(),
                codec: "opus",
            },
            RemoteStream {
                kind: "video",
                mindex: 1,
                mid: "1".into(),
                codec: "h264",
            },
        ]
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ForwardTo {
    pub mid: String,
    pub port: u16,
    pub pt: u8,
}

/// A publisher's stream, as in `joined`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StreamInfo {
    #[serde(rename = "type")]
    pub kind: String,
    pub mid: String,
    #[serde(default)]
    pub codec: Option<String>,
}

/// The `joined` event of `joinandconfigure`.
#[derive(Debug, Clone, Deserialize)]
pub struct Joined {
    pub id: u64,
    #[serde(default)]
    pub streams: Vec<StreamInfo>,
}

/// The answer to `rtp_forward`.
#[derive(Debug, Clone, Deserialize)]
pub struct Forwarded {
    #[serde(default)]
    pub forwarders: Vec<Forwarder>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Forwarder {
    pub stream_id: u64,
}

/// Janus's HTTP API root (cheap to clone).
#[derive(Debug, Clone)]
pub struct Janus {
    http: reqwest::Client,
    base: Arc<str>,
}

fn transaction() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(12)
        .map(char::from)
        .collect()
}

impl Janus {
    pub fn new(base: &str) -> Janus {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .unwrap_or_default();
        Janus {
            http,
            base: base.trim_end_matches('/').into(),
        }
    }

    async fn post<B: Serialize>(
        &self,
        path: &str,
        janus: &'static str,
        transaction: &str,
        plugin: Option<&str>,
        body: Option<&B>,
        jsep: Option<&Jsep>,
    ) -> Result<Incoming, JanusError> {
        let envelope = Envelope {
            janus,
            transaction,
            plugin,
            body,
            jsep,
        };
        let reply: Incoming = self
            .http
            .post(format!("{}{path}", self.base))
            .timeout(REQUEST_TIMEOUT)
            .json(&envelope)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        reply.into_result()
    }

    /// `GET /janus/info`: whether Janus answers at all.
    pub async fn info(&self) -> Result<(), JanusError> {
        self.http
            .get(format!("{}/info", self.base))
            .timeout(Duration::from_secs(2))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Creates a session and starts its long poll.
    pub async fn session(&self) -> Result<Session, JanusError> {
        let reply = self
            .post::<()>("", "create", &transaction(), None, None, None)
            .await?;
        let id = reply
            .data
            .and_then(|d| serde_json::from_value::<IdData>(d).ok())
            .ok_or_else(|| JanusError::Protocol("create without a session id".into()))?
            .id;
        let (ended, _) = watch::channel(None);
        let inner = Arc::new(SessionInner {
            janus: self.clone(),
            id,
            waiters: Mutex::new(HashMap::new()),
            ended,
        });
        tokio::spawn(poll(inner.clone()));
        Ok(Session { inner })
    }
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// We destroyed it.
    Destroyed,
    /// Janus hung up the PeerConnection (ICE failed, DTLS alert, …) or detached the handle.
    Hangup(String),
    /// Janus no longer knows the session (timed out, or Janus restarted).
    Gone,
}

struct SessionInner {
    janus: Janus,
    id: u64,
    waiters: Mutex<HashMap<String, oneshot::Sender<Incoming>>>,
    ended: watch::Sender<Option<Ended>>,
}

impl SessionInner {
    fn end(&self, why: Ended) {
        self.ended.send_if_modified(|e| {
            if e.is_none() {
                *e = Some(why);
                true
            } else {
                false
            }
        });
        // Pending requests fail with SessionClosed.
        if let Ok(mut w) = self.waiters.lock() {
            w.clear();
        }
    }
    fn is_ended(&self) -> bool {
        self.ended.borrow().is_some()
    }
}

/// A Janus session (cheap to clone; all clones are the same session).
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({})", self.inner.id)
    }
}

/// The session's long poll: delivers answers to waiters, ends the session on `hangup`,
/// `detached`, `timeout` or when Janus forgets it.
async fn poll(s: Arc<SessionInner>) {
    let mut ended = s.ended.subscribe();
    let mut failures = 0u32;
    let url = format!("{}/{}?maxev=10", s.janus.base, s.id);
    while !s.is_ended() {
        let request = s.janus.http.get(&url).timeout(POLL_TIMEOUT).send();
        let response = tokio::select! {
            r = request => r,
            _ = ended.changed() => break,
        };
        let body: Result<Value, reqwest::Error> = match response {
            Ok(r) => r.json().await,
            Err(e) => Err(e),
        };
        let events = match body {
            Ok(Value::Array(events)) => events,
            Ok(one) => vec![one],
            Err(e) => {
                failures += 1;
                if failures >= 3 {
                    tracing::debug!(session = s.id, "long poll failing: {e}");
                    s.end(Ended::Gone);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        failures = 0;
        for event in events {
            let Ok(m) = serde_json::from_value::<Incoming>(event) else {
                continue;
            };
            match m.janus.as_str() {
                "keepalive" | "ack" => {}
                "error" => {
                    if m.error.as_ref().map(|e| e.code) == Some(codes::SESSION_NOT_FOUND) {
                        s.end(Ended::Gone);
                    }
                }
                "hangup" | "detached" => {
                    let why = format!("{}: {}", m.janus, m.reason.clone().unwrap_or_default());
                    s.end(Ended::Hangup(why));
                }
                "timeout" => s.end(Ended::Gone),
                _ => {
                    let waiter = m
                        .transaction
                        .as_ref()
                        .and_then(|t| s.waiters.lock().ok()?.remove(t));
                    if let Some(w) = waiter {
                        let _ = w.send(m);
                    } else {
                        tracing::trace!(session = s.id, event = %m.janus, "janus event");
                    }
                }
            }
        }
    }
}

impl Session {
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// Attaches a plugin; returns the handle id.
    pub async fn attach(&self, plugin: &str) -> Result<u64, JanusError> {
        let reply = self
            .inner
            .janus
            .post::<()>(
                &format!("/{}", self.inner.id),
                "attach",
                &transaction(),
                Some(plugin),
                None,
                None,
            )
            .await?;
        reply
            .data
            .and_then(|d| serde_json::from_value::<IdData>(d).ok())
            .map(|d| d.id)
            .ok_or_else(|| JanusError::Protocol("attach without a handle id".into()))
    }

    /// Sends a plugin message; returns its answer, synchronous (`success`) or asynchronous (the
    /// `event` with the same transaction, after an `ack`).
    pub async fn message(
        &self,
        handle: u64,
        body: &VideoRoom,
        jsep: Option<&Jsep>,
    ) -> Result<PluginReply, JanusError> {
        if self.inner.is_ended() {
            return Err(JanusError::SessionClosed);
        }
        let tx = transaction();
        let (send, recv) = oneshot::channel();
        if let Ok(mut w) = self.inner.waiters.lock() {
            w.insert(tx.clone(), send);
        }
        let path = format!("/{}/{handle}", self.inner.id);
        let result = tokio::time::timeout(REQUEST_TIMEOUT, async {
            let reply = self
                .inner
                .janus
                .post(&path, "message", &tx, None, Some(body), jsep)
                .await?;
            match reply.janus.as_str() {
                "ack" => match recv.await {
                    Ok(event) => PluginReply::from_incoming(event.into_result()?),
                    Err(_) => Err(JanusError::SessionClosed),
                },
                "success" | "event" => PluginReply::from_incoming(reply),
                other => Err(JanusError::Protocol(format!(
                    "message answered with {other}"
                ))),
            }
        })
        .await
        .unwrap_or(Err(JanusError::Timeout));
        if let Ok(mut w) = self.inner.waiters.lock() {
            w.remove(&tx);
        }
        result
    }

    /// Resolves when the session ends (at once if it has).
    pub async fn ended(&self) -> Ended {
        let mut rx = self.inner.ended.subscribe();
        loop {
            if let Some(why) = rx.borrow_and_update().clone() {
                return why;
            }
            if rx.changed().await.is_err() {
                return Ended::Gone;
            }
        }
    }

    pub fn is_ended(&self) -> bool {
        self.inner.is_ended()
    }

    /// Ends the session here only (Janus is gone, and the session with it).
    pub fn forget(&self) {
        self.inner.end(Ended::Gone);
    }

    /// Destroys the session in Janus (which hangs up its PeerConnections) and stops the poll.
    /// Idempotent; errors are logged, not returned (the session is gone for us either way).
    pub async fn destroy(&self) {
        let gone = matches!(*self.inner.ended.borrow(), Some(Ended::Gone));
        self.inner.end(Ended::Destroyed);
        if !gone {
            let r = self
                .inner
                .janus
                .post::<()>(
                    &format!("/{}", self.inner.id),
                    "destroy",
                    &transaction(),
                    None,
                    None,
                    None,
                )
                .await;
            if let Err(e) = r {
                tracing::debug!(session = self.inner.id, "destroy: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_serialise_as_janus_expects() {
        let v = serde_json::to_value(VideoRoom::Start {}).unwrap();
        assert_eq!(v, serde_json::json!({"request": "start"}));
        let v = serde_json::to_value(VideoRoom::Join {
            room: 7,
            ptype: "subscriber",
            streams: vec![Feed { feed: 9 }],
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"request": "join", "room": 7, "ptype": "subscriber", "streams": [{"feed": 9}]})
        );
        let v = serde_json::to_value(VideoRoom::AddRemotePublisher {
            room: 1,
            id: 2,
            display: "demo".into(),
            iface: "127.0.0.1",
            port: 21000,
            streams: RemoteStream::av(),
        })
        .unwrap();
        assert_eq!(v["request"], "add_remote_publisher");
        assert_eq!(
            v["streams"][1],
            serde_json::json!({"type": "video", "mindex": 1, "mid": "1", "codec": "h264"})
        );
        let v = serde_json::to_value(VideoRoom::create(5, "room")).unwrap();
        assert_eq!(
            (v["request"].as_str(), v["h264_profile"].as_str()),
            (Some("create"), Some("42e01f"))
        );
        let v = serde_json::to_value(VideoRoom::StopRtpForward {
            room: 1,
            publisher_id: 2,
            stream_id: 3,
        })
        .unwrap();
        assert_eq!(v["request"], "stop_rtp_forward");
    }

    #[test]
    fn replies_and_errors() {
        let ok: Incoming = serde_json::from_value(serde_json::json!({
            "janus": "event", "transaction": "t", "sender": 1,
            "plugindata": {"plugin": VIDEOROOM, "data": {"videoroom": "joined", "id": 42, "streams": [{"type": "audio", "mid": "0", "codec": "opus"}]}},
            "jsep": {"type": "answer", "sdp": "v=0"}
        }))
        .unwrap();
        let reply = PluginReply::from_incoming(ok).unwrap();
        let joined: Joined = reply.parse().unwrap();
        assert_eq!((joined.id, joined.streams[0].kind.as_str()), (42, "audio"));
        assert_eq!(reply.jsep.unwrap().kind, "answer");

        let plugin_err: Incoming = serde_json::from_value(serde_json::json!({
            "janus": "success", "plugindata": {"plugin": VIDEOROOM, "data": {"videoroom": "event", "error_code": 426, "error": "No such room"}}
        }))
        .unwrap();
        assert!(matches!(
            PluginReply::from_incoming(plugin_err),
            Err(JanusError::Plugin { code: 426, .. })
        ));

        let core_err: Incoming = serde_json::from_value(serde_json::json!({
            "janus": "error", "error": {"code": 458, "reason": "No such session"}
        }))
        .unwrap();
        assert!(matches!(
            core_err.into_result(),
            Err(JanusError::Janus { code: 458, .. })
        ));
        assert_eq!(transaction().len(), 12);
    }
}
