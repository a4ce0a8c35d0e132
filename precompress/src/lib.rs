//! Precompression of the built site: next to every text file (`.js`, `.wasm`, `.css`, …) a
//! `<file>.br` (brotli, quality 11) and a `<file>.gz` (gzip, level 9), which the server sends as
//! they are to browsers that accept them. Nothing is compressed per request.
//!
//! A variant is written only when it is smaller than its file, and only when it is missing or
//! older than its file, so a second run over an unchanged site costs a directory walk. A variant
//! that no longer pays, or whose file is gone, is removed, so it can never be served stale.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

/// The extensions worth compressing: text and wasm. Images and fonts are compressed already.
pub const COMPRESSIBLE: &[&str] = &["js", "mjs", "wasm", "css", "svg", "txt", "json", "html"];

/// Whether `path` names a file this tool writes variants for.
pub fn is_compressible(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| COMPRESSIBLE.contains(&e))
}

/// A precompressed variant of a file, stored as `<file>.<suffix>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
}

impl Encoding {
    pub const ALL: [Encoding; 2] = [Encoding::Brotli, Encoding::Gzip];

    /// The suffix the server looks for (tower-http's `ServeDir::precompressed_*`).
    pub fn suffix(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Gzip => "gz",
        }
    }

    pub fn compress(self, data: &[u8]) -> Vec<u8> {
        match self {
            Encoding::Brotli => brotli(data),
            Encoding::Gzip => gzip(data),
        }
    }

    /// Where this variant of `file` is stored.
    pub fn path_for(self, file: &Path) -> PathBuf {
        let mut name = file.as_os_str().to_owned();
        name.push(".");
        name.push(self.suffix());
        PathBuf::from(name)
    }
}

/// Brotli at quality 11 with a window just large enough for the whole input (at most 16 MiB, what
/// browsers decode).
pub fn brotli(data: &[u8]) -> Vec<u8> {
    let window_bits = usize::BITS - data.len().saturating_sub(1).leading_zeros();
    let params = ::brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: window_bits.clamp(16, 24) as i32,
        size_hint: data.len(),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(data.len() / 3);
    ::brotli::BrotliCompress(&mut &data[..], &mut out, &params)
        .expect("compressing into memory cannot fail");
    out
}

/// Gzip at level 9 (`gzip -9`).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 3),
        flate2::Compression::best(),
    );
    encoder
        .write_all(data)
        .expect("compressing into memory cannot fail");
    encoder
        .finish()
        .expect("compressing into memory cannot fail")
}

/// What happened to one variant of one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Written: `(original size, compressed size)`.
    Written(u64, u64),
    /// Already there and newer than its file.
    Fresh,
    /// Compression does not make the file smaller: no variant (an old one is removed).
    NotSmaller,
}

/// Brings one variant of `file` up to date.
pub fn precompress_file(file: &Path, encoding: Encoding) -> io::Result<Outcome> {
    let target = encoding.path_for(file);
    let source_modified = std::fs::metadata(file)?.modified()?;
    if is_newer(&target, source_modified) {
        return Ok(Outcome::Fresh);
    }
    let data = std::fs::read(file)?;
    let compressed = encoding.compress(&data);
    if compressed.len() >= data.len() {
        remove_if_present(&target)?;
        return Ok(Outcome::NotSmaller);
    }
    // Written whole under another name, then renamed: a server reading the site never sees half.
    let mut partial = target.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, &compressed)?;
    std::fs::rename(&partial, &target)?;
    Ok(Outcome::Written(data.len() as u64, compressed.len() as u64))
}

fn is_newer(path: &Path, than: SystemTime) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|modified| modified > than)
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// One line per variant written, and the counts.
#[derive(Debug, Default)]
pub struct Report {
    /// `(file, encoding, original size, compressed size)` for each variant written.
    pub written: Vec<(PathBuf, Encoding, u64, u64)>,
    pub fresh: usize,
    pub not_smaller: usize,
    /// Variants whose file is gone, removed.
    pub orphans_removed: usize,
}

/// Brings the variants of every compressible file under `root` up to date, on all cores.
pub fn precompress_dir(root: &Path) -> io::Result<Report> {
    let mut files = Vec::new();
    let mut report = Report::default();
    walk(root, &mut files, &mut report)?;
    // Largest first, so the wasm does not start last on a core of its own.
    let mut jobs: Vec<(PathBuf, u64, Encoding)> = files
        .into_iter()
        .flat_map(|(path, len)| Encoding::ALL.map(|e| (path.clone(), len, e)))
        .collect();
    jobs.sort_by_key(|(_, len, _)| std::cmp::Reverse(*len));

    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(jobs.len()));
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((path, _, encoding)) = jobs.get(i) else {
                    break;
                };
                let outcome = precompress_file(path, *encoding);
                results
                    .lock()
                    .expect("no worker panics holding the lock")
                    .push((path.clone(), *encoding, outcome));
            });
        }
    });
    let mut results = results.into_inner().expect("workers are done");
    results.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, encoding, outcome) in results {
        match outcome? {
            Outcome::Written(from, to) => report.written.push((path, encoding, from, to)),
            Outcome::Fresh => report.fresh += 1,
            Outcome::NotSmaller => report.not_smaller += 1,
        }
    }
    Ok(report)
}

/// Collects the compressible files under `dir` with their sizes, and removes variants whose file
/// is gone and the leftovers of an interrupted run.
fn walk(dir: &Path, files: &mut Vec<(PathBuf, u64)>, report: &mut Report) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, files, report)?;
        } else if kind.is_file() {
            if is_compressible(&path) {
                files.push((path, entry.metadata()?.len()));
            } else if is_stale_variant(&path) {
                remove_if_present(&path)?;
                report.orphans_removed += 1;
            }
        }
    }
    Ok(())
}

/// A variant of a compressible file that no longer exists, or one left half written.
fn is_stale_variant(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let (name, partial) = match name.strip_suffix(".partial") {
        Some(name) => (name, true),
        None => (name, false),
    };
    Encoding::ALL.iter().any(|e| {
        name.strip_suffix(e.suffix())
            .and_then(|n| n.strip_suffix('.'))
            .is_some_and(|source| {
                let source = path.with_file_name(source);
                is_compressible(&source) && (partial || !source.is_file())
            })
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::time::Duration;

    use super::*;

    fn text(len: usize) -> Vec<u8> {
        b"function nearby(store) { return store.eta_minutes <= 60; }\n"
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect()
    }

    /// Bytes no compressor can shrink (xorshift).
    fn noise(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn decompress(encoding: Encoding, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match encoding {
            Encoding::Brotli => ::brotli::Decompressor::new(data, 4096)
                .read_to_end(&mut out)
                .expect("valid brotli"),
            Encoding::Gzip => flate2::read::GzDecoder::new(data)
                .read_to_end(&mut out)
                .expect("valid gzip"),
        };
        out
    }

    /// Sets the file's modification time `seconds` from now: file times tick in milliseconds, so
    /// a file and its variant written at once may carry the same time.
    fn touch(path: &Path, seconds: i64) {
        let now = SystemTime::now();
        let delta = Duration::from_secs(seconds.unsigned_abs());
        let at = if seconds < 0 {
            now - delta
        } else {
            now + delta
        };
        std::fs::File::options()
            .write(true)
            .open(path)
            .and_then(|f| f.set_modified(at))
            .expect("sets the time");
    }

    #[test]
    fn writes_a_smaller_br_and_gz_that_decompress_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("pkg");
        std::fs::create_dir(&pkg).unwrap();
        let wasm = pkg.join("jishi.abc.wasm");
        let original = text(100_000);
        std::fs::write(&wasm, &original).unwrap();

        let report = precompress_dir(dir.path()).unwrap();
        assert_eq!(report.written.len(), 2, "{report:?}");
        for encoding in Encoding::ALL {
            let variant = std::fs::read(encoding.path_for(&wasm)).unwrap();
            assert!(variant.len() < original.len() / 10, "{encoding:?}");
            assert_eq!(decompress(encoding, &variant), original, "{encoding:?}");
        }
        assert_eq!(
            pkg.join("jishi.abc.wasm.br"),
            Encoding::Brotli.path_for(&wasm)
        );
        assert_eq!(
            pkg.join("jishi.abc.wasm.gz"),
            Encoding::Gzip.path_for(&wasm)
        );
    }

    #[test]
    fn a_second_run_skips_fresh_variants_and_redoes_a_changed_file() {
        let dir = tempfile::tempdir().unwrap();
        let js = dir.path().join("app.js");
        let css = dir.path().join("app.css");
        std::fs::write(&js, text(5_000)).unwrap();
        std::fs::write(&css, text(6_000)).unwrap();
        touch(&js, -10);
        touch(&css, -10);
        assert_eq!(precompress_dir(dir.path()).unwrap().written.len(), 4);

        let again = precompress_dir(dir.path()).unwrap();
        assert!(again.written.is_empty(), "{again:?}");
        assert_eq!(again.fresh, 4);

        let changed = text(7_000);
        std::fs::write(&js, &changed).unwrap();
        touch(&js, 5);
        let after_change = precompress_dir(dir.path()).unwrap();
        let redone: Vec<_> = after_change.written.iter().map(|w| &w.0).collect();
        assert_eq!(redone, [&js, &js]);
        assert_eq!(after_change.fresh, 2);
        let br = std::fs::read(Encoding::Brotli.path_for(&js)).unwrap();
        assert_eq!(decompress(Encoding::Brotli, &br), changed);
    }

    #[test]
    fn a_file_compression_does_not_shrink_gets_no_variant_and_loses_an_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let txt = dir.path().join("noise.txt");
        std::fs::write(&txt, noise(4_096)).unwrap();
        let old = Encoding::Gzip.path_for(&txt);
        std::fs::write(&old, b"a variant of what the file once was").unwrap();
        touch(&txt, 5);

        let report = precompress_dir(dir.path()).unwrap();
        assert!(report.written.is_empty(), "{report:?}");
        assert_eq!(report.not_smaller, 2);
        assert!(!old.exists());
        assert!(!Encoding::Brotli.path_for(&txt).exists());
    }

    #[test]
    fn images_are_left_alone_and_variants_of_vanished_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("marker.png");
        std::fs::write(&png, text(10_000)).unwrap();
        let orphan = dir.path().join("jishi.old.js.br");
        let partial = dir.path().join("robots.txt.gz.partial");
        std::fs::write(dir.path().join("robots.txt"), text(2_000)).unwrap();
        std::fs::write(&orphan, b"x").unwrap();
        std::fs::write(&partial, b"x").unwrap();

        let report = precompress_dir(dir.path()).unwrap();
        assert_eq!(report.orphans_removed, 2, "{report:?}");
        assert!(!orphan.exists() && !partial.exists());
        assert!(!dir.path().join("marker.png.br").exists());
        assert!(dir.path().join("robots.txt.gz").exists());
        assert!(dir.path().join("robots.txt.br").exists());
    }
}
