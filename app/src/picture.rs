//! A product's picture, the one way every page shows one: width and height set (no layout shift),
//! `srcset` with `sizes` (a phone fetches the small file), `decoding=async`, lazy unless it is on
//! the first screen. A product without a picture gets a plain box of the same size.
//!
//! The markup is a string put in with `inner_html`: the same in server HTML and in islands, and in
//! an island it costs a `format!` instead of typed attribute setters in the wasm.

use jishi_api::catalog::Image;
use leptos::prelude::*;

/// A picture's width in an order's lines (checkout, the order page): the style sheet's `.pic-48`.
pub const LINE_PICTURE_PX: u32 = 48;

/// A picture's width on a card about one product (the live room's pin, the group page): `.pic-96`.
pub const CARD_PICTURE_PX: u32 = 96;

/// How a picture loads: `Eager` for the few on the first screen, `Lazy` for the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loading {
    Eager,
    Lazy,
}

/// `<img>` markup for `image` shown `px` CSS pixels wide, `alt` the product's name; an empty
/// placeholder for none (its box is the `span.pic-{px}` around it: the CSP allows no inline style).
pub fn img_html(image: Option<&Image>, alt: &str, px: u32, loading: Loading) -> String {
    let Some(image) = image else {
        return r#"<span class="product-image none"></span>"#.to_owned();
    };
    let height = if image.width == 0 {
        px
    } else {
        (u64::from(px) * u64::from(image.height) / u64::from(image.width)) as u32
    };
    let loading = match loading {
        Loading::Eager => "eager",
        Loading::Lazy => "lazy",
    };
    format!(
        r#"<img class="product-image" data-testid="product-image" src="{src}" srcset="{srcset}" sizes="{px}px" width="{px}" height="{height}" alt="{alt}" loading="{loading}" decoding="async">"#,
        src = escape(&image.src),
        srcset = escape(&image.srcset),
        alt = escape(alt),
    )
}

/// Text safe inside a double-quoted attribute (or as element text).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The picture in a `span.pic.pic-{px}`: the box grids place, sized by the style sheet.
#[component]
pub fn ProductImage(
    image: Option<Image>,
    #[prop(into)] alt: String,
    px: u32,
    #[prop(default = Loading::Lazy)] loading: Loading,
) -> impl IntoView {
    view! { <span class=format!("pic pic-{px}") inner_html=img_html(image.as_ref(), &alt, px, loading)></span> }
}

/// `src` as an absolute URL for link previews (`og:image`) and a mini-program's share card: as is
/// when it already is one, else on `origin` (`https://shop.example`).
pub fn absolute(src: &str, origin: &str) -> String {
    if src.starts_with("https://") || src.starts_with("http://") {
        src.to_owned()
    } else {
        format!(
            "{}/{}",
            origin.trim_end_matches('/'),
            src.trim_start_matches('/')
        )
    }
}

/// This request's origin as the browser used it (`http://` unless a proxy said `https`), for
/// `og:image` in server HTML; empty outside a request. Only pages rendered per request use it
/// (the page cache keeps none of them), so a forged Host reaches only its own sender.
pub fn request_origin() -> String {
    #[cfg(feature = "ssr")]
    {
        let Some(parts) = use_context::<http::request::Parts>() else {
            return String::new();
        };
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let host = header("host").filter(|h| {
            !h.is_empty()
                && h.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                })
        });
        let scheme = match header("x-forwarded-proto") {
            Some("https") => "https",
            _ => "http",
        };
        host.map(|h| format!("{scheme}://{h}")).unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        String::new()
    }
}

/// The picture as an absolute URL on this page's origin, for a mini-program's share card
/// (`imageUrl`); empty for none, which the host reads as "a screenshot of the page".
pub fn share_url(image: Option<&Image>) -> String {
    #[cfg(feature = "hydrate")]
    {
        let origin = web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default();
        image.map(|i| absolute(&i.src, &origin)).unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = image;
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> Image {
        Image {
            src: "/api/v1/images/ab-192.webp".into(),
            width: 256,
            height: 256,
            srcset: "/api/v1/images/cd-96.webp 96w, /api/v1/images/ab-192.webp 192w".into(),
        }
    }

    #[test]
    fn a_picture_is_sized_lazy_async_with_srcset_and_an_escaped_alt() {
        let html = img_html(Some(&image()), r#"<b>"牛奶" & 'x'</b>"#, 64, Loading::Lazy);
        assert!(html.starts_with("<img "), "{html}");
        for part in [
            r#"width="64""#,
            r#"height="64""#,
            r#"sizes="64px""#,
            r#"loading="lazy""#,
            r#"decoding="async""#,
            r#"srcset="/api/v1/images/cd-96.webp 96w, /api/v1/images/ab-192.webp 192w""#,
            r#"alt="&lt;b&gt;&quot;牛奶&quot; &amp; &#39;x&#39;&lt;/b&gt;""#,
        ] {
            assert!(html.contains(part), "{part} in {html}");
        }
        assert!(img_html(Some(&image()), "x", 64, Loading::Eager).contains(r#"loading="eager""#));
        let wide = Image {
            width: 300,
            height: 150,
            ..image()
        };
        assert!(img_html(Some(&wide), "x", 64, Loading::Lazy).contains(r#"height="32""#));
    }

    #[test]
    fn no_picture_keeps_the_same_box_and_a_hostile_src_stays_in_its_attribute() {
        let none = img_html(None, "x", 48, Loading::Lazy);
        assert_eq!(none, r#"<span class="product-image none"></span>"#);
        let hostile = Image {
            src: r#"x" onerror="alert(1)"#.into(),
            ..image()
        };
        let html = img_html(Some(&hostile), "x", 48, Loading::Lazy);
        assert!(
            html.contains(r#"src="x&quot; onerror=&quot;alert(1)""#),
            "{html}"
        );
    }

    #[test]
    fn share_urls_are_absolute() {
        assert_eq!(
            absolute("/api/v1/images/a.webp", "https://shop.example/"),
            "https://shop.example/api/v1/images/a.webp"
        );
        assert_eq!(
            absolute("https://cdn.example/a.webp", "https://shop.example"),
            "https://cdn.example/a.webp"
        );
    }
}
