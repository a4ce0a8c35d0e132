//! Where the vendored static files are served from. Their names carry a hash of their content, so
//! the server can let browsers cache them for a year; a changed file gets a new name.

/// Leaflet's script, loaded only by pages that show a map.
pub const LEAFLET_JS: &str = "/leaflet/leaflet.js";
/// Leaflet's stylesheet, with the script.
pub const LEAFLET_CSS: &str = "/leaflet/leaflet.css";
