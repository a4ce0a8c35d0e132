//! Two jobs, both at build time so that nothing is made per request:
//! - sqlx::migrate! embeds platform/migrations at compile time: a new or changed migration must
//!   rebuild the crate even when no Rust file changed.
//! - The demo pictures (src/demo/pictures/*.webp, 256 px 3D renders) are made once into the widths
//!   a phone needs, as lossy WebP, each file named by a hash of its bytes so it can be cached as
//!   immutable. `src/pictures.rs` includes the table written here.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Widths made of every picture: a card on a 1×, 2× and 3× phone screen.
const WIDTHS: [u32; 3] = [96, 192, 256];
/// libwebp's quality (0–100): 80 keeps the renders' gradients clean at a third of lossless size.
const QUALITY: f32 = 80.0;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=src/demo/pictures");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Err(e) = make_pictures(Path::new("src/demo/pictures"), &out) {
        panic!("demo pictures: {e}");
    }
}

fn make_pictures(sources: &Path, out: &Path) -> Result<(), String> {
    let files_dir = out.join("pictures");
    std::fs::create_dir_all(&files_dir).map_err(|e| format!("{}: {e}", files_dir.display()))?;
    let mut stems: Vec<(String, PathBuf)> = std::fs::read_dir(sources)
        .map_err(|e| format!("{}: {e}", sources.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "webp"))
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_owned(), p)))
        .collect();
    stems.sort();

    let mut table = String::from(
        "// Written by platform/build.rs from src/demo/pictures: do not edit.\n\
         pub(crate) static PICTURES: &[SourcePicture] = &[\n",
    );
    for (stem, path) in &stems {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let source = image::load_from_memory_with_format(&bytes, image::ImageFormat::WebP)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .to_rgba8();
        let (sw, sh) = source.dimensions();
        let _ = writeln!(
            table,
            "    SourcePicture {{ stem: {stem:?}, width: {sw}, height: {sh}, files: &["
        );
        for width in WIDTHS.into_iter().filter(|w| *w <= sw) {
            let height = (u64::from(sh) * u64::from(width) / u64::from(sw)).max(1) as u32;
            let sized = if width == sw {
                source.clone()
            } else {
                image::imageops::resize(
                    &source,
                    width,
                    height,
                    image::imageops::FilterType::Lanczos3,
                )
            };
            let encoded = webp::Encoder::from_rgba(sized.as_raw(), width, height).encode(QUALITY);
            let hash = Sha256::digest(&*encoded);
            let hex: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
            let name = format!("{hex}-{width}.webp");
            let file = files_dir.join(&name);
            std::fs::write(&file, &*encoded).map_err(|e| format!("{}: {e}", file.display()))?;
            let _ = writeln!(
                table,
                "        PictureFile {{ width: {width}, height: {height}, name: {name:?}, bytes: include_bytes!({:?}) }},",
                file.display().to_string()
            );
        }
        table.push_str("    ] },\n");
    }
    table.push_str("];\n");
    let generated = out.join("pictures.rs");
    std::fs::write(&generated, table).map_err(|e| format!("{}: {e}", generated.display()))
}
