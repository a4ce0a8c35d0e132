//! The built site's files: precompressed variants sent as they are, a year's cache for hashed
//! names, revalidation for the rest, and the app's 404 page for paths with no file.

use std::io::Read;
use std::path::{Path, PathBuf};

use jishi_app::assets::{LEAFLET_CSS, LEAFLET_JS};
use jishi_server::{Limits, Shutdown};
use reqwest::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, LAST_MODIFIED, VARY};

use crate::support::{spawn_platform_with_step, spawn_server_on_site, TestApp, GUOMAO};

/// cargo-leptos's names, as `hash-files` writes them (22 base64url characters of MD5).
const WASM: &str = "/pkg/jishi.Qm9vdHN0cmFwX2hhc2hfXw.wasm";
const JS: &str = "/pkg/jishi.bm90X2FfcmVhbF9oYXNoXw.js";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A site as `cargo leptos build --release` and `jishi-precompress` leave it, with the real
/// vendored files, and the server serving it.
struct Site {
    root: tempfile::TempDir,
    app: TestApp,
}

impl Site {
    async fn start() -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let public = Path::new(env!("CARGO_MANIFEST_DIR")).join("../public");
        for vendored in [
            LEAFLET_JS,
            LEAFLET_CSS,
            "/leaflet/images/marker-icon.png",
            "/robots.txt",
        ] {
            let to = root.path().join(&vendored[1..]);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(public.join(&vendored[1..]), to).expect("a file in public/");
        }
        std::fs::create_dir_all(root.path().join("pkg")).unwrap();
        let bindings: Vec<u8> = b"export function hydrate() { wasm.hydrate(); }\n"
            .iter()
            .copied()
            .cycle()
            .take(20_000)
            .collect();
        std::fs::write(root.path().join(&JS[1..]), bindings).unwrap();
        let module: Vec<u8> = (0..200_000u32).map(|i| (i % 251 % 17) as u8).collect();
        std::fs::write(root.path().join(&WASM[1..]), module).unwrap();
        std::fs::write(root.path().join("noise.txt"), noise(4_096)).unwrap();
        let report = jishi_precompress::precompress_dir(root.path()).expect("precompresses");
        assert!(report.written.len() >= 8, "{report:?}");
        assert!(!root.path().join("noise.txt.gz").exists());

        let platform = spawn_platform_with_step(jishi_platform::DEMO_DISPATCH_STEP).await;
        let server = spawn_server_on_site(
            &platform,
            root.path().to_str().expect("a UTF-8 temp path"),
            Limits::default(),
            Vec::new(),
            Shutdown::default(),
        )
        .await;
        Self {
            root,
            app: TestApp::of(&platform, server),
        }
    }

    fn file(&self, path: &str) -> PathBuf {
        self.root.path().join(&path[1..])
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.app.http.get(format!("{}{path}", self.app.server));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("an answer")
    }
}

/// Bytes no compressor can shrink.
fn noise(len: usize) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut bytes = vec![0u8; len];
    rand_chacha::ChaCha8Rng::seed_from_u64(7).fill_bytes(&mut bytes);
    bytes
}

fn header(res: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<&str> {
    res.headers().get(name).map(|v| v.to_str().expect("ascii"))
}

#[tokio::test]
async fn a_hashed_file_is_sent_precompressed_as_built_and_kept_for_a_year() {
    let site = Site::start().await;
    for (path, accept, encoding, suffix, mime) in [
        (WASM, "br", "br", "br", "application/wasm"),
        (WASM, "gzip", "gzip", "gz", "application/wasm"),
        // What browsers send: brotli wins.
        (
            WASM,
            "gzip, deflate, br, zstd",
            "br",
            "br",
            "application/wasm",
        ),
        (JS, "br", "br", "br", "text/javascript"),
        (LEAFLET_JS, "gzip", "gzip", "gz", "text/javascript"),
        (LEAFLET_CSS, "br", "br", "br", "text/css"),
    ] {
        let res = site.get(path, &[("accept-encoding", accept)]).await;
        assert_eq!(res.status(), 200, "{path} {accept}");
        assert_eq!(
            header(&res, CONTENT_ENCODING),
            Some(encoding),
            "{path} {accept}"
        );
        assert_eq!(header(&res, CACHE_CONTROL), Some(IMMUTABLE), "{path}");
        assert!(
            header(&res, CONTENT_TYPE).is_some_and(|t| t.starts_with(mime)),
            "{path}: {:?}",
            header(&res, CONTENT_TYPE)
        );
        assert!(
            header(&res, VARY).is_some_and(|v| v.contains("accept-encoding")),
            "{path}"
        );
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        let variant = std::fs::read(format!("{}.{suffix}", site.file(path).display())).unwrap();
        assert_eq!(res.bytes().await.unwrap(), variant, "{path} {accept}");
    }
}

#[tokio::test]
async fn a_client_that_accepts_no_encoding_gets_the_file_itself() {
    let site = Site::start().await;
    for path in [WASM, LEAFLET_JS] {
        let res = site.get(path, &[]).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(header(&res, CONTENT_ENCODING), None, "{path}");
        assert_eq!(header(&res, CACHE_CONTROL), Some(IMMUTABLE), "{path}");
        let modified = header(&res, LAST_MODIFIED).expect("a date").to_owned();
        assert_eq!(
            res.bytes().await.unwrap(),
            std::fs::read(site.file(path)).unwrap()
        );

        // A revalidation, should a browser ever make one, stays cacheable.
        let again = site.get(path, &[("if-modified-since", &modified)]).await;
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(header(&again, CACHE_CONTROL), Some(IMMUTABLE), "{path}");
    }
}

#[tokio::test]
async fn files_without_a_hash_in_their_name_are_revalidated() {
    let site = Site::start().await;
    for path in ["/robots.txt", "/leaflet/images/marker-icon.png"] {
        let res = site.get(path, &[("accept-encoding", "gzip, br")]).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(header(&res, CACHE_CONTROL), Some("no-cache"), "{path}");
        assert!(header(&res, LAST_MODIFIED).is_some(), "{path}");
    }
}

#[tokio::test]
async fn a_file_compression_does_not_shrink_is_sent_raw_not_compressed_per_request() {
    let site = Site::start().await;
    let res = site
        .get("/noise.txt", &[("accept-encoding", "gzip, deflate, br")])
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, CONTENT_ENCODING), None);
    assert_eq!(header(&res, CACHE_CONTROL), Some("no-cache"));
    assert_eq!(res.bytes().await.unwrap(), noise(4_096));
}

#[tokio::test]
async fn a_path_with_no_file_is_the_apps_404_page_compressed_and_not_kept() {
    let site = Site::start().await;
    for path in [
        "/no/such/page",
        // A hashed name that was never built (or an old build's): not cached for a year.
        "/pkg/jishi.AAAAAAAAAAAAAAAAAAAAAA.wasm",
        "/pkg/",
        "/pkg",
    ] {
        let res = site.get(path, &[("accept-encoding", "gzip")]).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(header(&res, CACHE_CONTROL), Some("no-cache"), "{path}");
        assert_eq!(header(&res, CONTENT_ENCODING), Some("gzip"), "{path}");
        assert!(
            header(&res, CONTENT_TYPE).is_some_and(|t| t.starts_with("text/html")),
            "{path}"
        );
        let mut html = String::new();
        flate2::read::GzDecoder::new(&res.bytes().await.unwrap()[..])
            .read_to_string(&mut html)
            .expect("gzip");
        assert!(html.contains("data-testid=\"not-found\""), "{path}: {html}");
    }
}

#[tokio::test]
async fn pages_and_json_are_still_compressed_per_request() {
    let site = Site::start().await;
    for path in [
        format!("/?lat={}&lng={}", GUOMAO.0, GUOMAO.1),
        format!("/api/v1/stores/nearby?lat={}&lng={}", GUOMAO.0, GUOMAO.1),
    ] {
        let res = site.get(&path, &[("accept-encoding", "br")]).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(header(&res, CONTENT_ENCODING), Some("br"), "{path}");
        assert!(
            header(&res, CACHE_CONTROL).is_some_and(|c| c.contains("no-")),
            "{path}: {:?}",
            header(&res, CACHE_CONTROL)
        );
    }
}

#[tokio::test]
async fn a_shoppers_session_does_not_stop_the_files_being_kept() {
    let site = Site::start().await;
    let cookie = ("cookie", "jishi_session=AnyTokenWillDo123");
    let res = site.get(WASM, &[cookie, ("accept-encoding", "br")]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, CACHE_CONTROL), Some(IMMUTABLE));
    let res = site.get("/robots.txt", &[cookie]).await;
    assert_eq!(header(&res, CACHE_CONTROL), Some("no-cache"));
    // Pages for that shopper are still theirs alone.
    let res = site.get("/no/such/page", &[cookie]).await;
    assert_eq!(header(&res, CACHE_CONTROL), Some("private, no-store"));
}
