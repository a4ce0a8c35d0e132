//! Recordings (回放): each HLS muxer run also writes a *part* of the room's recording,
//! `replay/<room>/rec-<start ms>.m3u8` with its segments beside it (2 s each, dated with
//! `EXT-X-PROGRAM-DATE-TIME`, at most the window's worth: ffmpeg deletes older ones itself). A
//! room's replay is its parts in order, served as one VOD playlist with a discontinuity between
//! parts. The sweep bounds the disk: a room keeps its last `window_s`, all rooms together
//! `max_mb` (oldest parts first), nothing past `keep_days`; the part being written is never
//! touched.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use jishi_api::media::{HlsFile, RoomId};

use super::Gateway;
use crate::error::MediaError;

/// A part's playlist: `rec-<ms>.m3u8`.
fn part_start(name: &str) -> Option<u64> {
    name.strip_prefix("rec-")?
        .strip_suffix(".m3u8")?
        .parse()
        .ok()
}

/// A segment file not listed by any part is left this long (ffmpeg writes a segment before it
/// lists it), then deleted.
const ORPHAN_AFTER: Duration = Duration::from_secs(120);

/// One part on disk.
#[derive(Debug)]
struct Part {
    playlist: PathBuf,
    segments: Vec<String>,
    duration_s: f64,
    bytes: u64,
    modified: SystemTime,
}

/// One segment a playlist lists: its own tags (date, duration) as written, its length and its
/// file name (as [`HlsFile`] accepts it; anything else is left out with its tags).
struct Entry {
    tags: Vec<String>,
    duration_s: f64,
    name: String,
}

fn entries(m3u8: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let (mut tags, mut duration_s) = (Vec::new(), 0.0);
    for line in m3u8.lines().map(str::trim) {
        if line.starts_with("#EXT-X-PROGRAM-DATE-TIME:") {
            tags.push(line.to_owned());
        } else if line.starts_with("#EXTINF:") {
            duration_s = jishi_api::media::extinf_seconds(line).unwrap_or(0.0);
            tags.push(line.to_owned());
        } else if !line.is_empty() && !line.starts_with('#') {
            let name = line.rsplit('/').next().unwrap_or(line);
            let tags = std::mem::take(&mut tags);
            if HlsFile::parse(name) == Some(HlsFile::Segment) {
                out.push(Entry {
                    tags,
                    duration_s,
                    name: name.to_owned(),
                });
            }
            duration_s = 0.0;
        }
    }
    out
}

/// One VOD playlist from a room's parts (oldest first): their segments with their dates, a
/// discontinuity between parts, and an end, so players treat it as a whole recording even while
/// a part is still being written.
pub fn compose(parts: &[String]) -> Option<String> {
    let mut body = String::new();
    let mut target = 1.0f64;
    let mut any = false;
    for part in parts {
        let entries = entries(part);
        if entries.is_empty() {
            continue;
        }
        if any {
            body.push_str("#EXT-X-DISCONTINUITY\n");
        }
        any = true;
        for e in entries {
            target = target.max(e.duration_s);
            for tag in e.tags {
                body.push_str(&tag);
                body.push('\n');
            }
            body.push_str(&e.name);
            body.push('\n');
        }
    }
    any.then(|| {
        format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:{}\n\
             #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n{body}#EXT-X-ENDLIST\n",
            target.ceil() as u64
        )
    })
}

/// The part playlists of a recording folder, oldest first.
fn part_playlists(dir: &Path) -> Vec<PathBuf> {
    let Ok(files) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(u64, PathBuf)> = files
        .flatten()
        .filter_map(|e| Some((part_start(e.file_name().to_str()?)?, e.path())))
        .collect();
    found.sort_by_key(|(start_ms, _)| *start_ms);
    found.into_iter().map(|(_, path)| path).collect()
}

/// The parts of a recording folder, oldest first, with what the sweep weighs: their lengths,
/// sizes and ages.
fn parts_in(dir: &Path) -> Vec<Part> {
    part_playlists(dir)
        .into_iter()
        .filter_map(|playlist| {
            let text = std::fs::read_to_string(&playlist).ok()?;
            let modified = std::fs::metadata(&playlist).ok()?.modified().ok()?;
            let entries = entries(&text);
            let duration_s = entries.iter().map(|e| e.duration_s).sum();
            let segments: Vec<String> = entries.into_iter().map(|e| e.name).collect();
            let bytes = segments
                .iter()
                .filter_map(|s| std::fs::metadata(dir.join(s)).ok())
                .map(|m| m.len())
                .sum::<u64>()
                + text.len() as u64;
            Some(Part {
                playlist,
                segments,
                duration_s,
                bytes,
                modified,
            })
        })
        .collect()
}

fn remove_part(dir: &Path, part: &Part) {
    for s in &part.segments {
        let _ = std::fs::remove_file(dir.join(s));
    }
    let _ = std::fs::remove_file(&part.playlist);
    tracing::info!(part = %part.playlist.display(), "recording part deleted");
}

impl Gateway {
    fn replay_root(&self) -> PathBuf {
        self.settings
            .replay
            .dir
            .clone()
            .unwrap_or_else(|| self.layout.dir.join("replay"))
    }

    fn replay_dir(&self, room: &RoomId) -> PathBuf {
        self.replay_root().join(room.as_str())
    }

    /// Where a new part of `room`'s recording goes (its folder made), or `None` when recording
    /// is off or the folder cannot be made.
    pub(super) fn new_part(&self, room: &RoomId) -> Option<(PathBuf, u32)> {
        let window = self.settings.replay.window_s;
        if window == 0 {
            return None;
        }
        let dir = self.replay_dir(room);
        // An empty folder left from before is made anew, so the sweep sees it as just made.
        let _ = std::fs::remove_dir(&dir);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::warn!(%room, "not recording: {e}");
            return None;
        }
        let ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        Some((dir.join(format!("rec-{ms}.m3u8")), window))
    }

    /// `GET /replay/{room}/{file}`: the composed playlist or one segment.
    pub async fn replay_file(
        &self,
        room: &RoomId,
        file: HlsFile,
        name: &str,
    ) -> Result<Vec<u8>, MediaError> {
        let dir = self.replay_dir(room);
        match file {
            HlsFile::Segment => match tokio::fs::read(dir.join(name)).await {
                Ok(b) => Ok(b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(MediaError::NoRecording),
                Err(e) => Err(e.into()),
            },
            HlsFile::Playlist => {
                // Each part's text, read once (the sweep's sizes and ages are not needed here).
                let texts = tokio::task::spawn_blocking(move || {
                    part_playlists(&dir)
                        .iter()
                        .filter_map(|p| std::fs::read_to_string(p).ok())
                        .collect::<Vec<_>>()
                })
                .await
                .unwrap_or_default();
                compose(&texts)
                    .map(String::into_bytes)
                    .ok_or(MediaError::NoRecording)
            }
        }
    }

    /// Bounds the recordings' disk use (see the module's docs). Runs on the gateway's sweep.
    pub(super) async fn prune_recordings(&self) {
        let writing: HashSet<PathBuf> = {
            let ops = self.ops.lock().await;
            ops.hls
                .values()
                .filter_map(|h| h.recording.clone())
                .collect()
        };
        let root = self.replay_root();
        let limits = self.settings.replay.clone();
        let _ =
            tokio::task::spawn_blocking(move || prune(&root, &writing, &limits, SystemTime::now()))
                .await;
    }
}

/// What [`Gateway::prune_recordings`] does, on the folders alone.
pub(super) fn prune(
    root: &Path,
    writing: &HashSet<PathBuf>,
    limits: &crate::settings::ReplaySettings,
    now: SystemTime,
) {
    let Ok(rooms) = std::fs::read_dir(root) else {
        return;
    };
    let keep = Duration::from_secs(u64::from(limits.keep_days) * 86_400);
    let mut all: Vec<(PathBuf, Part)> = Vec::new();
    for room in rooms.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        let mut parts = parts_in(&room);
        // Past retention.
        parts.retain(|p| {
            let old = now.duration_since(p.modified).unwrap_or_default() > keep;
            if old && !writing.contains(&p.playlist) {
                remove_part(&room, p);
                return false;
            }
            true
        });
        // Past the room's window: its oldest parts.
        let mut total: f64 = parts.iter().map(|p| p.duration_s).sum();
        while total > f64::from(limits.window_s)
            && parts.len() > 1
            && !writing.contains(&parts[0].playlist)
        {
            let oldest = parts.remove(0);
            total -= oldest.duration_s;
            remove_part(&room, &oldest);
        }
        // Segments no part lists (a muxer killed mid-write), once surely not about to be listed.
        let listed: HashSet<&str> = parts
            .iter()
            .flat_map(|p| p.segments.iter().map(String::as_str))
            .collect();
        if let Ok(files) = std::fs::read_dir(&room) {
            for f in files.flatten() {
                let name = f.file_name();
                let Some(name) = name.to_str() else { continue };
                let stale = f
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|m| now.duration_since(m).unwrap_or_default() > ORPHAN_AFTER);
                if HlsFile::parse(name) == Some(HlsFile::Segment) && !listed.contains(name) && stale
                {
                    let _ = std::fs::remove_file(f.path());
                }
            }
        }
        // Only once empty and untouched for a while: a muxer that has just started writes its
        // first segment here seconds later (`new_part` makes the folder fresh).
        let idle = std::fs::metadata(&room)
            .and_then(|m| m.modified())
            .is_ok_and(|m| now.duration_since(m).unwrap_or_default() > ORPHAN_AFTER);
        if parts.is_empty() && idle {
            let _ = std::fs::remove_dir(&room);
        }
        all.extend(parts.into_iter().map(|p| (room.clone(), p)));
    }
    // All rooms together: the least recently written parts first.
    let max = limits.max_mb.saturating_mul(1024 * 1024);
    let mut total: u64 = all.iter().map(|(_, p)| p.bytes).sum();
    all.sort_by_key(|(_, p)| p.modified);
    for (room, part) in &all {
        if total <= max {
            break;
        }
        if writing.contains(&part.playlist) {
            continue;
        }
        remove_part(room, part);
        total = total.saturating_sub(part.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::ReplaySettings;

    const PART_A: &str = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:100\n\
        #EXT-X-PROGRAM-DATE-TIME:2026-12-07T18:00:00.000+0800\n#EXTINF:2.000000,\nseg100.ts\n\
        #EXT-X-PROGRAM-DATE-TIME:2026-12-07T18:00:02.000+0800\n#EXTINF:2.500000,\n/tmp/x/seg101.ts\n\
        #EXTINF:1,\n../evil.ts\n#EXT-X-ENDLIST\n";
    const PART_B: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n\
        #EXT-X-PROGRAM-DATE-TIME:2026-12-07T19:00:00.000+0800\n#EXTINF:2.000000,\nseg900.ts\n";

    #[test]
    fn parts_make_one_vod_playlist_with_their_dates() {
        let got = compose(&[PART_A.into(), "#EXTM3U\n".into(), PART_B.into()]).unwrap();
        assert_eq!(
            got,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:3\n\
             #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-PROGRAM-DATE-TIME:2026-12-07T18:00:00.000+0800\n#EXTINF:2.000000,\nseg100.ts\n\
             #EXT-X-PROGRAM-DATE-TIME:2026-12-07T18:00:02.000+0800\n#EXTINF:2.500000,\nseg101.ts\n\
             #EXT-X-DISCONTINUITY\n\
             #EXT-X-PROGRAM-DATE-TIME:2026-12-07T19:00:00.000+0800\n#EXTINF:2.000000,\nseg900.ts\n\
             #EXT-X-ENDLIST\n"
        );
        assert_eq!(compose(&[]), None);
        assert_eq!(compose(&["#EXTM3U\n".into()]), None);
        assert_eq!(
            part_start("rec-1765100000000.m3u8"),
            Some(1_765_100_000_000)
        );
        assert_eq!(part_start("index.m3u8"), None);
    }

    fn write(path: &Path, text: &str, age: Duration) {
        std::fs::write(path, text).unwrap();
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn the_sweep_keeps_each_room_to_its_window_and_everything_to_its_days_and_size() {
        let root = std::env::temp_dir().join(format!("jishi-replay-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let (r1, r2) = (root.join("r1"), root.join("r2"));
        std::fs::create_dir_all(&r1).unwrap();
        std::fs::create_dir_all(&r2).unwrap();
        let fresh = Duration::from_secs(1);
        write(&r1.join("rec-1.m3u8"), PART_A, fresh);
        write(&r1.join("seg100.ts"), "a", fresh);
        write(&r1.join("seg101.ts"), "b", fresh);
        write(&r1.join("rec-2.m3u8"), PART_B, fresh);
        write(&r1.join("seg900.ts"), "c", fresh);
        // Listed by nobody: deleted once old enough to be no muxer's next segment.
        write(&r1.join("seg555.ts"), "x", Duration::from_secs(600));
        write(&r1.join("seg556.ts"), "y", fresh);
        // Past retention.
        write(
            &r2.join("rec-3.m3u8"),
            PART_B,
            Duration::from_secs(8 * 86_400),
        );
        write(&r2.join("seg900.ts"), "c", Duration::from_secs(8 * 86_400));
        let limits = ReplaySettings {
            dir: None,
            window_s: 5,
            keep_days: 7,
            max_mb: 100,
        };
        let exists =
            |p: &Path, names: &[&str]| names.iter().map(|n| p.join(n).exists()).collect::<Vec<_>>();
        // rec-1 + rec-2 = 6.5 s > 5 s: the oldest part goes, unless it is being written.
        let writing: HashSet<PathBuf> = [r1.join("rec-1.m3u8")].into();
        prune(&root, &writing, &limits, SystemTime::now());
        assert_eq!(
            exists(
                &r1,
                &[
                    "rec-1.m3u8",
                    "seg100.ts",
                    "rec-2.m3u8",
                    "seg555.ts",
                    "seg556.ts"
                ]
            ),
            [true, true, true, false, true]
        );
        assert!(r2.exists() && parts_in(&r2).is_empty());
        // An empty folder stays while a muxer may be starting in it; then it goes.
        let later = SystemTime::now() + ORPHAN_AFTER + Duration::from_secs(1);
        prune(&root, &writing, &limits, later);
        assert!(
            !r2.exists(),
            "a room past retention is gone with its folder"
        );
        prune(&root, &HashSet::new(), &limits, SystemTime::now());
        assert_eq!(
            exists(
                &r1,
                &[
                    "rec-1.m3u8",
                    "seg100.ts",
                    "seg101.ts",
                    "rec-2.m3u8",
                    "seg900.ts"
                ]
            ),
            [false, false, false, true, true]
        );
        // Over the size cap: everything not being written.
        let none = ReplaySettings {
            max_mb: 0,
            ..limits
        };
        let writing: HashSet<PathBuf> = [r1.join("rec-2.m3u8")].into();
        prune(&root, &writing, &none, SystemTime::now());
        assert!(r1.join("rec-2.m3u8").exists());
        prune(&root, &HashSet::new(), &none, SystemTime::now());
        assert!(!r1.join("rec-2.m3u8").exists() && !r1.join("seg900.ts").exists());
        let _ = std::fs::remove_dir_all(&root);
    }
}
