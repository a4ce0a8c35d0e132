//! `cargo bench -p jishi-server --bench nearby` (or `scripts/bench.sh`): builds the 400k-store
//! index and prints one figure a line:
//! - nearby query latency in-process (µs, p50/p99),
//! - the same through the server's `/api/v1` proxy over HTTP at 64 concurrent connections
//!   (ms p50/p99 and requests/s; client, server and platform share this machine's cores),
//! - the release hydrate wasm size raw/gzip/brotli (needs `cargo leptos build --release --split` first).
//!
//! With `JISHI_BENCH_QUERIES=<file>` it also writes its HTTP query paths there, for the wrk run in
//! `scripts/bench.sh` against the real server binary.
//!
//! Figures are printed, never asserted: machines are shared and noisy.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jishi_api::stores::NearbyQuery;
use jishi_api::LatLng;
use jishi_platform::demo::scaled_stores;
use jishi_platform::stores::StoreIndex;
use jishi_platform::{Seed, DEMO_SEED};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

// Shared with the tests: this benchmark uses only some of it.
#[allow(dead_code)]
#[path = "../tests/support/mod.rs"]
mod support;

// Many small short-lived allocations per request from many threads: mimalloc avoids glibc's arena
// lock contention seen in profiles under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const STORES: usize = 400_000;
const IN_PROCESS_QUERIES: usize = 20_000;
const HTTP_CONNECTIONS: usize = 64;
const HTTP_REQUESTS: usize = 20_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// Query points where shoppers are: near stores, jittered by up to ~2 km.
fn query_points(index_stores: &[(f64, f64)], n: usize, rng: &mut ChaCha8Rng) -> Vec<LatLng> {
    (0..n)
        .map(|_| {
            let (lat, lng) = index_stores[rng.gen_range(0..index_stores.len())];
            LatLng::new(
                lat + rng.gen_range(-0.018..0.018),
                lng + rng.gen_range(-0.022..0.022),
            )
            .expect("jittered points stay valid")
        })
        .collect()
}

fn main() {
    // As the server's `main` runs it.
    jishi_server::memory::no_transparent_huge_pages();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let clock = support::frozen_clock();

    let started = Instant::now();
    let stores = scaled_stores(STORES, DEMO_SEED);
    let locations: Vec<(f64, f64)> = stores.iter().map(|s| (s.lat, s.lng)).collect();
    let index = StoreIndex::build(stores);
    println!("stores_indexed: {}", index.len());
    println!("index_build_ms: {}", started.elapsed().as_millis());

    // In-process.
    let points = query_points(&locations, IN_PROCESS_QUERIES, &mut rng);
    let now = clock.store_local_now();
    let mut found = 0usize;
    let mut latencies: Vec<Duration> = points
        .iter()
        .map(|&p| {
            let t = Instant::now();
            let r = index.nearby(&NearbyQuery::new(p), now);
            let elapsed = t.elapsed();
            found += r.stores.len();
            elapsed
        })
        .collect();
    latencies.sort_unstable();
    println!("in_process_queries: {IN_PROCESS_QUERIES}");
    println!(
        "in_process_avg_stores_per_page: {:.1}",
        found as f64 / IN_PROCESS_QUERIES as f64
    );
    println!(
        "in_process_p50_us: {:.1}",
        percentile(&latencies, 0.50).as_secs_f64() * 1e6
    );
    println!(
        "in_process_p99_us: {:.1}",
        percentile(&latencies, 0.99).as_secs_f64() * 1e6
    );
    drop(index);
    let _ = std::io::stdout().flush();

    // Through the server over HTTP.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = format!("sqlite://{}", dir.path().join("bench.db").display());
        let t = Instant::now();
        let (_platform, platform_url) = support::spawn_platform(|c| {
            c.database_url = db;
            c.seed = Seed::Scaled {
                stores: STORES,
                seed: DEMO_SEED,
            };
            c.clock = clock;
        })
        .await;
        println!("platform_seed_and_open_ms: {}", t.elapsed().as_millis());
        let server_addr = support::spawn_server(&platform_url).await;

        let paths: Vec<String> = query_points(&locations, HTTP_REQUESTS, &mut rng)
            .iter()
            .map(|p| {
                format!(
                    "/api/v1/stores/nearby?lat={:.6}&lng={:.6}",
                    p.lat(),
                    p.lng()
                )
            })
            .collect();
        // scripts/bench.sh replays the same points with wrk against the real server binary.
        if let Ok(file) = std::env::var("JISHI_BENCH_QUERIES") {
            if let Err(e) = std::fs::write(&file, paths.join("\n") + "\n") {
                eprintln!("cannot write {file}: {e}");
            }
        }
        let urls: Arc<Vec<String>> = Arc::new(
            paths
                .iter()
                .map(|p| format!("http://{server_addr}{p}"))
                .collect(),
        );
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(HTTP_CONNECTIONS)
            .build()
            .expect("client");
        // Warm up connections and caches.
        for url in urls.iter().take(200) {
            let _ = client
                .get(url)
                .send()
                .await
                .and_then(|r| r.error_for_status());
        }
        let started = Instant::now();
        let mut tasks = Vec::new();
        for worker in 0..HTTP_CONNECTIONS {
            let client = client.clone();
            let urls = urls.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = 0usize;
                for url in urls.iter().skip(worker).step_by(HTTP_CONNECTIONS) {
                    let t = Instant::now();
                    match client.get(url).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                        }
                        _ => failures += 1,
                    }
                    latencies.push(t.elapsed());
                }
                (latencies, failures)
            }));
        }
        let mut latencies = Vec::with_capacity(HTTP_REQUESTS);
        let mut failures = 0;
        for task in tasks {
            let (l, f) = task.await.expect("worker finishes");
            latencies.extend(l);
            failures += f;
        }
        let wall = started.elapsed();
        latencies.sort_unstable();
        println!("http_connections: {HTTP_CONNECTIONS}");
        println!("http_requests: {}", latencies.len());
        println!("http_failures: {failures}");
        println!(
            "http_p50_ms: {:.2}",
            percentile(&latencies, 0.50).as_secs_f64() * 1e3
        );
        println!(
            "http_p99_ms: {:.2}",
            percentile(&latencies, 0.99).as_secs_f64() * 1e3
        );
        println!(
            "http_requests_per_s: {:.0}",
            latencies.len() as f64 / wall.as_secs_f64()
        );
    });

    wasm_sizes();
}

/// The release hydrate wasm (`jishi.<hash>.wasm`, or `jishi.wasm` unhashed) and its size raw and
/// compressed as `jishi-precompress` compresses it for serving.
fn wasm_sizes() {
    let pkg = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site/pkg");
    let wasm = std::fs::read_dir(&pkg).ok().and_then(|entries| {
        entries.flatten().map(|e| e.path()).find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("jishi.") && n.ends_with(".wasm"))
        })
    });
    let Some(raw) = wasm.and_then(|path| std::fs::read(path).ok()) else {
        println!("wasm: not built (run `cargo leptos build --release --split` first)");
        return;
    };
    println!("wasm_raw_kb: {:.1}", raw.len() as f64 / 1024.0);
    println!(
        "wasm_gzip_kb: {:.1}",
        jishi_precompress::gzip(&raw).len() as f64 / 1024.0
    );
    println!(
        "wasm_brotli_kb: {:.1}",
        jishi_precompress::brotli(&raw).len() as f64 / 1024.0
    );
}
