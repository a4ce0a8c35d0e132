//! The built site's files (`target/site`: `/pkg/*`, `/leaflet/*`, `/widget/v1/*`, `/robots.txt`),
//! served as they are on disk.
//!
//! - A name that carries a hash of its content (`jishi.<22 base64url>.wasm` from cargo-leptos's
//!   `hash-files`, `leaflet.<10 hex>.js` for vendored files, see `jishi_app::assets`) never changes
//!   content: `Cache-Control: public, max-age=31536000, immutable`. Anything else: `no-cache`, so
//!   browsers revalidate (`Last-Modified`).
//! - Text files are sent as the `.br` or `.gz` that `jishi-precompress` wrote beside them when the
//!   browser accepts it, else raw: nothing is compressed per request (`SiteFile` tells the
//!   compression layer to keep off).
//! - A path with no file behind it is the app's 404 page.

use std::convert::Infallible;
use std::path::PathBuf;

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use leptos::prelude::LeptosOptions;
use tower::Service;
use tower_http::compression::Predicate;
use tower_http::services::ServeDir;

/// On a response holding a file of the site, as it is on disk.
#[derive(Clone, Copy, Debug)]
pub struct SiteFile;

/// On the app's 404 page, rendered for a path with no file behind it.
#[derive(Clone, Copy, Debug)]
struct RenderedByApp;

pub const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
pub const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");

/// The site's files, with `not_found` (the app's 404 page) for paths that name none.
pub fn service<F>(
    site_root: &str,
    not_found: F,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
       + Clone
       + Send
       + Sync
       + 'static
where
    F: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    F::Future: Send + 'static,
{
    let not_found = tower::ServiceBuilder::new()
        .map_response(|mut response: Response| {
            response.extensions_mut().insert(RenderedByApp);
            response
        })
        .service(not_found);
    let files = ServeDir::new(site_root)
        .precompressed_br()
        .precompressed_gzip()
        // A directory is not a page: `/pkg/` is the app's 404, not a redirect or a listing.
        .append_index_html_on_directories(false)
        .call_fallback_on_method_not_allowed(true)
        .fallback(not_found);
    tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn(cache_rules))
        .service(files)
}

/// For the compression layer: compress anything but the site's files, which are sent as they are
/// on disk (precompressed, or raw when compression would not make them smaller).
#[derive(Clone, Copy, Debug)]
pub struct NotSiteFile;

impl Predicate for NotSiteFile {
    fn should_compress<B>(&self, response: &axum::http::Response<B>) -> bool
    where
        B: HttpBody,
    {
        response.extensions().get::<SiteFile>().is_none()
    }
}

/// Caching headers for a file of the site (the 404 page keeps the app's own).
async fn cache_rules(request: Request, next: Next) -> Response {
    let hashed = is_hashed_path(request.uri().path());
    let mut response = next.run(request).await;
    if response.extensions().get::<RenderedByApp>().is_some() {
        return response;
    }
    let status = response.status();
    let unchanging = hashed && (status.is_success() || status == StatusCode::NOT_MODIFIED);
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        if unchanging { IMMUTABLE } else { NO_CACHE },
    );
    // The same URL answers br, gzip or raw bytes: shared caches must key on what was accepted.
    headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    response.extensions_mut().insert(SiteFile);
    response
}

/// Whether the last segment of `path` carries a content hash: `<stem>.<hash>.<ext>` with the hash
/// 10 lowercase hex digits (ours) or 22 base64url characters (cargo-leptos's MD5).
pub fn is_hashed_path(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut parts = name.rsplitn(3, '.');
    let (Some(ext), Some(hash), Some(stem)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !ext.is_empty() && !stem.is_empty() && (is_vendored_hash(hash) || is_leptos_hash(hash))
}

/// Ours, for vendored files: the first 10 hex digits of the file's SHA-256.
fn is_vendored_hash(hash: &str) -> bool {
    hash.len() == 10 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// cargo-leptos's: the file's MD5 in unpadded base64url.
fn is_leptos_hash(hash: &str) -> bool {
    hash.len() == 22
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Where cargo-leptos writes the hashed names of `jishi.js/.wasm/.css` (`hash.txt` beside the
/// server binary, where Leptos reads it).
fn hash_file(options: &LeptosOptions) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join(options.hash_file.as_ref()))
}

/// Options whose `hash_files` says whether this binary's site has hashed names: on exactly when
/// cargo-leptos wrote the hash file beside it. A binary built by cargo-leptos with `hash-files` is
/// usually started without cargo-leptos's environment (`scripts/run.sh`, Playwright), so the
/// setting alone would name files that do not exist; and Leptos panics on rendering a page with
/// hashing on and no hash file, so a test or bench binary must never have it on.
pub fn with_hashed_names_if_built(mut options: LeptosOptions) -> LeptosOptions {
    let found = hash_file(&options).filter(|f| f.is_file());
    match (&found, options.hash_files) {
        (Some(file), false) => tracing::debug!(file = %file.display(), "hashed file names"),
        (None, true) => tracing::warn!(
            "file hashing is on but there is no {} beside the server binary: serving unhashed names",
            options.hash_file
        ),
        _ => {}
    }
    options.hash_files = found.is_some();
    options
}

/// The app's 404 page as a service: status 404 unless the app set another.
pub fn not_found_page<H, Fut>(
    render: H,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
       + Clone
       + Send
       + Sync
       + 'static
where
    H: Fn(Request<Body>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response> + Send + 'static,
{
    tower::service_fn(move |request: Request| {
        let response = render(request);
        async move {
            let mut response = response.await;
            if response.status() == StatusCode::OK {
                *response.status_mut() = StatusCode::NOT_FOUND;
            }
            Ok::<_, Infallible>(response)
        }
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn hashed_names_are_the_ones_with_a_content_hash() {
        for p in [
            "/pkg/jishi.1B2M2Y8AsgTpgAmY7PhCfg.wasm",
            "/pkg/jishi.1B2M2Y8AsgTpgAmY7Ph-_g.js",
            "/leaflet/leaflet.db49d009c8.js",
            jishi_app::assets::LEAFLET_JS,
            jishi_app::assets::LEAFLET_CSS,
        ] {
            assert!(is_hashed_path(p), "{p}");
        }
        for p in [
            "/pkg/jishi.wasm",
            "/pkg/jishi.d41d8cd98f00b204e9800998ecf8427e.wasm",
            "/robots.txt",
            "/leaflet/images/marker-icon.png",
            "/leaflet/leaflet.DB49D009C8.js",
            "/leaflet/leaflet.db49d009c.js",
            "/leaflet/.db49d009c8.js",
            "/pkg/jishi.1B2M2Y8AsgTpgAmY7PhCfg.wasm.br",
            "/pkg/snippets/leaflet-1a2b3c/inline0.js",
            "/",
            "",
        ] {
            assert!(!is_hashed_path(p), "{p}");
        }
    }

    fn files_under(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                files_under(&path, found);
            } else {
                found.push(path);
            }
        }
    }

    /// A vendored file edited in place would keep its name and stay cached for a year in every
    /// browser that has it: its name must change with its content.
    #[test]
    fn every_hashed_name_in_public_matches_its_content() {
        let public = Path::new(env!("CARGO_MANIFEST_DIR")).join("../public");
        let mut files = Vec::new();
        files_under(&public, &mut files);
        let mut hashed = Vec::new();
        for file in files {
            let served = format!("/{}", file.strip_prefix(&public).unwrap().to_str().unwrap());
            if !is_hashed_path(&served) {
                continue;
            }
            let name = file.file_name().unwrap().to_str().unwrap();
            let claimed = name.rsplit('.').nth(1).unwrap();
            let digest = Sha256::digest(std::fs::read(&file).unwrap());
            let actual: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(
                claimed,
                &actual[..10],
                "{served} changed: rename it to carry `sha256sum {name} | cut -c1-10` and update \
                 jishi_app::assets"
            );
            hashed.push(served);
        }
        for constant in [
            jishi_app::assets::LEAFLET_JS,
            jishi_app::assets::LEAFLET_CSS,
            jishi_app::assets::HLS_JS,
            jishi_app::assets::WX_JS,
            jishi_app::assets::WX_BRIDGE_JS,
        ] {
            assert!(
                hashed.iter().any(|h| h == constant),
                "{constant} in public/"
            );
        }
    }

    #[test]
    fn hashing_is_off_for_a_binary_with_no_hash_file_beside_it() {
        for requested in [true, false] {
            let options = LeptosOptions::builder()
                .output_name("jishi")
                .hash_files(requested)
                .build();
            assert!(!with_hashed_names_if_built(options).hash_files);
        }
    }
}
