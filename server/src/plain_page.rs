//! Plain HTML pages the server writes itself, with no app, scripts or styles: the no-script cart
//! form's error, and the sandbox's stand-in for a mini-program host's pay page.

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use jishi_app::lang::{tag, Locale};

/// A page in `locale` with `title`, an `<h1>` and `body` (HTML the caller built, its text
/// escaped), never stored.
pub fn page(
    status: StatusCode,
    locale: Locale,
    title: &str,
    heading: &str,
    body: &str,
) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title></head><body><main><h1>{}</h1>{body}</main></body></html>",
        tag(locale),
        escape(title),
        escape(heading),
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// Text (or an attribute value) made safe to put into HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
