//! Compiles app/locales/{zh-CN,en}/*.json (one namespace per domain module) into the `i18n` module:
//! a `Locale` enum and typed keys, so a missing or misspelt key fails the build, not the page.

use leptos_i18n_build::{Config, ParseOptions, TranslationsInfos};
use std::error::Error;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    let out_dir = std::env::var_os("OUT_DIR").ok_or("cargo sets OUT_DIR for build scripts")?;
    let namespaces = [
        "common", "errors", "stores", "catalog", "cart", "orders", "live", "host", "groups",
        "auth",
        // The server's own plain pages (no-script cart form errors, the sandbox host pay page).
        "pages",
    ];
    let cfg = Config::new("zh-CN")?
        .add_locale("en")?
        .add_namespaces(namespaces)?
        // `td_string!` with `{{ values }}` formats through Display (no view types needed).
        .parse_options(ParseOptions::new().interpolate_display(true));
    let translations = TranslationsInfos::parse(cfg)?;
    translations.emit_diagnostics();
    translations.rerun_if_locales_changed();
    translations.generate_i18n_module(PathBuf::from(out_dir).join("i18n"))?;
    Ok(())
}
