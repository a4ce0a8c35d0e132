//! Integration tests: the real platform and the real server, each on its own loopback port,
//! talking HTTP. One binary with a module per feature keeps link time down.

mod abuse;
mod accounts;
mod assets;
mod cart_form;
mod groups;
mod hardening;
mod live;
mod media;
mod nearby;
mod page_cache;
mod pages;
mod proxy;

// The server tests' one harness, shared with `tests/process` and the benchmarks.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;
