//! Janus's configuration, rendered from the templates in `media/janus/` into the runtime dir.

use std::path::{Path, PathBuf};

use crate::ports::Layout;
use crate::settings::Settings;

const TEMPLATES: [(&str, &str); 4] = [
    ("janus.jcfg", include_str!("../janus/janus.jcfg")),
    (
        "janus.transport.http.jcfg",
        include_str!("../janus/janus.transport.http.jcfg"),
    ),
    (
        "janus.plugin.videoroom.jcfg",
        include_str!("../janus/janus.plugin.videoroom.jcfg"),
    ),
    (
        "janus.plugin.streaming.jcfg",
        include_str!("../janus/janus.plugin.streaming.jcfg"),
    ),
];

/// The modules Janus loads; every other one in Debian's folders is disabled.
const KEEP: [&str; 3] = [
    "libjanus_videoroom.so",
    "libjanus_streaming.so",
    "libjanus_http.so",
];

/// Replaces each `{{key}}` in `template`.
pub fn fill(template: &str, values: &[(&str, String)]) -> String {
    values.iter().fold(template.to_owned(), |t, (k, v)| {
        t.replace(&format!("{{{{{k}}}}}"), v)
    })
}

/// The `libjanus_*.so` modules in `folder` that are not in [`KEEP`], comma-separated.
pub fn disable_list(folder: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("libjanus_") && n.ends_with(".so"))
                .filter(|n| !KEEP.contains(&n.as_str()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.join(",")
}

/// Writes the configs into `<dir>/janus/` and returns that folder (what `janus -F` takes).
pub fn render(settings: &Settings, layout: &Layout) -> std::io::Result<PathBuf> {
    let folder = layout.dir.join("janus");
    std::fs::create_dir_all(&folder)?;
    let lib = &settings.janus_lib;
    let enforce = match &settings.iface {
        Some(iface) => format!("\tice_enforce_list = \"{iface}\""),
        None => "\t# no interface detected: Janus gathers on all of them".to_owned(),
    };
    let values = [
        ("configs_folder", folder.display().to_string()),
        ("lib", lib.display().to_string()),
        (
            "rtp_port_range",
            format!("{}-{}", layout.rtp_ports.0, layout.rtp_ports.1),
        ),
        ("ice_enforce_list", enforce),
        ("plugins_disable", disable_list(&lib.join("plugins"))),
        ("transports_disable", disable_list(&lib.join("transports"))),
        ("loggers_disable", disable_list(&lib.join("loggers"))),
        ("events_disable", disable_list(&lib.join("events"))),
        ("http_port", layout.janus_port.to_string()),
    ];
    for (name, template) in TEMPLATES {
        std::fs::write(folder.join(name), fill(template, &values))?;
    }
    Ok(folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_placeholder() {
        let lib = tempfile::tempdir().unwrap();
        for (sub, files) in [
            (
                "plugins",
                &[
                    "libjanus_videoroom.so",
                    "libjanus_sip.so",
                    "libjanus_sip.so.1",
                    "libjanus_echotest.so",
                ][..],
            ),
            (
                "transports",
                &["libjanus_http.so", "libjanus_websockets.so"][..],
            ),
            ("loggers", &["libjanus_jsonlog.so"][..]),
            ("events", &[][..]),
        ] {
            std::fs::create_dir_all(lib.path().join(sub)).unwrap();
            for f in files {
                std::fs::write(lib.path().join(sub).join(f), "").unwrap();
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::from_vars(|_| None).unwrap();
        settings.janus_lib = lib.path().to_owned();
        settings.iface = Some("eth7".into());
        let layout = Layout::fixed(4321, (20000, 20999), (21000, 21999), dir.path().to_owned());
        let folder = render(&settings, &layout).unwrap();
        let main = std::fs::read_to_string(folder.join("janus.jcfg")).unwrap();
        assert!(!main.contains("{{"), "{main}");
        assert!(main.contains("ice_enforce_list = \"eth7\""));
        assert!(main.contains("disable = \"libjanus_echotest.so,libjanus_sip.so\""));
        assert!(main.contains("disable = \"libjanus_websockets.so\""));
        assert!(main.contains("rtp_port_range = \"20000-20999\""));
        assert!(main.contains(&format!("configs_folder = \"{}\"", folder.display())));
        let http = std::fs::read_to_string(folder.join("janus.transport.http.jcfg")).unwrap();
        assert!(http.contains("port = 4321") && http.contains("ip = \"127.0.0.1\""));
        assert!(folder.join("janus.plugin.videoroom.jcfg").exists());
        settings.iface = None;
        let main = std::fs::read_to_string(render(&settings, &layout).unwrap().join("janus.jcfg"))
            .unwrap();
        assert!(!main.contains("ice_enforce_list ="));
    }
}
