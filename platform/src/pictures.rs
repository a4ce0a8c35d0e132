//! The demo's product pictures, served like an image CDN. `build.rs` made every width once, as
//! lossy WebP named `<hash of its bytes>-<width>.webp`; this module names them on the wire
//! (`jishi_api::catalog::Image`) and serves them (`GET /v1/images/{file}`, immutable, ETag).
//! A product's `products.picture` is the stem of its source file (`1f34e` for 🍎).

use std::collections::HashMap;
use std::sync::OnceLock;

use jishi_api::catalog::Image;

/// One source render and the files made of it.
pub(crate) struct SourcePicture {
    pub stem: &'static str,
    pub width: u32,
    pub height: u32,
    /// Narrowest first.
    pub files: &'static [PictureFile],
}

/// One width of one picture, as served.
pub struct PictureFile {
    pub width: u32,
    pub height: u32,
    /// `<16 hex digits of SHA-256 of bytes>-<width>.webp`.
    pub name: &'static str,
    pub bytes: &'static [u8],
}

impl PictureFile {
    /// The content hash in the name: the ETag.
    pub fn hash(&self) -> &'static str {
        self.name.split('-').next().unwrap_or(self.name)
    }
}

include!(concat!(env!("OUT_DIR"), "/pictures.rs"));

/// Where browsers fetch pictures by default: the shop server's proxy of this platform's API.
pub const DEFAULT_IMAGE_BASE: &str = "/api/v1/images";

/// The width named by `src`, for browsers that ignore `srcset`: a card on a 2× screen.
const SRC_WIDTH: u32 = 192;

static BASE: OnceLock<String> = OnceLock::new();

/// Sets where image URLs point (`JISHI_IMAGE_BASE`) for this process; the first platform opened
/// decides (every platform in one process serves the same files).
pub fn set_base(base: &str) {
    let base = base.trim().trim_end_matches('/');
    if BASE.get_or_init(|| base.to_owned()) != base {
        tracing::warn!(base, "a second image base in one process is ignored");
    }
}

fn base() -> &'static str {
    BASE.get().map_or(DEFAULT_IMAGE_BASE, String::as_str)
}

fn source(stem: &str) -> Option<&'static SourcePicture> {
    PICTURES
        .binary_search_by(|p| p.stem.cmp(stem))
        .ok()
        .map(|i| &PICTURES[i])
}

/// Whether the platform has a picture of this stem (the catalogue's check).
pub fn exists(stem: &str) -> bool {
    source(stem).is_some()
}

/// The wire picture for a product's `picture` stem; none for no stem or an unknown one.
pub fn image(stem: Option<&str>) -> Option<Image> {
    let picture = source(stem?)?;
    let url = |f: &PictureFile| format!("{}/{}", base(), f.name);
    let src = picture
        .files
        .iter()
        .rev()
        .find(|f| f.width <= SRC_WIDTH)
        .or(picture.files.first())?;
    Some(Image {
        src: url(src),
        width: picture.width,
        height: picture.height,
        srcset: picture
            .files
            .iter()
            .map(|f| format!("{} {}w", url(f), f.width))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The file behind an image URL's last segment.
pub fn file(name: &str) -> Option<&'static PictureFile> {
    static BY_NAME: OnceLock<HashMap<&'static str, &'static PictureFile>> = OnceLock::new();
    BY_NAME
        .get_or_init(|| {
            PICTURES
                .iter()
                .flat_map(|p| p.files.iter())
                .map(|f| (f.name, f))
                .collect()
        })
        .get(name)
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_picture_has_its_widths_named_by_the_hash_of_their_bytes() {
        use sha2::{Digest, Sha256};
        assert!(!PICTURES.is_empty());
        for p in PICTURES {
            assert_eq!(
                p.files.iter().map(|f| f.width).collect::<Vec<_>>(),
                [96, 192, 256],
                "{}",
                p.stem
            );
            for f in p.files {
                let hash: String = Sha256::digest(f.bytes)[..8]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                assert_eq!(f.name, format!("{hash}-{}.webp", f.width));
                assert_eq!(f.hash(), hash);
                assert!(f.bytes.starts_with(b"RIFF") && &f.bytes[8..12] == b"WEBP");
                assert!(std::ptr::eq(file(f.name).unwrap(), f));
            }
        }
    }

    #[test]
    fn a_stem_becomes_src_and_srcset_under_the_base_and_an_unknown_one_nothing() {
        let stem = PICTURES[0].stem;
        let image = image(Some(stem)).unwrap();
        assert!(image.src.starts_with(&format!("{}/", base())));
        assert!(image.src.ends_with("-192.webp"), "{}", image.src);
        assert_eq!((image.width, image.height), (256, 256));
        assert_eq!(image.srcset.matches(", ").count(), 2);
        assert!(image.srcset.ends_with(" 256w"));
        assert_eq!(super::image(Some("no-such-picture")), None);
        assert_eq!(super::image(None), None);
        assert!(file("0000000000000000-96.webp").is_none());
    }
}
