//! `jishi-precompress [SITE_ROOT]…`: writes `<file>.br` (brotli q11) and `<file>.gz` (gzip -9)
//! next to each text file under the built site (default `$LEPTOS_SITE_ROOT`, else `target/site`),
//! for the server to send as they are. Run it after `cargo leptos build --release`; a second run
//! over an unchanged site rewrites nothing.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mut roots: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if roots.is_empty() {
        roots.push(
            std::env::var_os("LEPTOS_SITE_ROOT")
                .map_or_else(|| PathBuf::from("target/site"), PathBuf::from),
        );
    }
    for root in roots {
        let started = Instant::now();
        let report = match jishi_precompress::precompress_dir(&root) {
            Ok(report) => report,
            Err(e) => {
                eprintln!("jishi-precompress: {}: {e}", root.display());
                return ExitCode::FAILURE;
            }
        };
        for (file, encoding, from, to) in &report.written {
            let name = file.strip_prefix(&root).unwrap_or(file);
            println!(
                "  {}.{}: {:.1} KiB -> {:.1} KiB",
                name.display(),
                encoding.suffix(),
                *from as f64 / 1024.0,
                *to as f64 / 1024.0
            );
        }
        println!(
            "precompressed {}: {} written, {} fresh, {} not smaller, {} stale removed ({} ms)",
            root.display(),
            report.written.len(),
            report.fresh,
            report.not_smaller,
            report.orphans_removed,
            started.elapsed().as_millis()
        );
    }
    ExitCode::SUCCESS
}
