//! The one contract crate: every type that crosses the wire is defined here, with its validation,
//! so the platform, the server and the browser agree on shapes and on what counts as bad input.
//!
//! Invariant: no I/O, no async runtime, no HTTP types. It compiles for `wasm32-unknown-unknown`.

pub mod after_sales;
pub mod areas;
pub mod auth;
pub mod cart;
pub mod catalog;
pub mod category;
pub mod error;
pub mod events;
pub mod geo;
pub mod groups;
pub mod headers;
pub mod hours;
pub mod live;
pub mod media;
pub mod money;
pub mod orders;
pub mod person;
pub mod routes;
pub mod stores;
pub mod text;
pub mod time;
pub mod widget;

pub use category::Category;
pub use error::{ApiError, ErrorCode};
pub use geo::LatLng;
