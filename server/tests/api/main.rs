//! Integration tests: the real platform and the real server, each on its own loopback port,
//! talking HTTP. One binary with a module per feature keeps link time down.

mod accounts;
mod assets;
mod cart_form;
mod groups;
mod hardening;
mod helpers;
mod live;
mod media;
mod nearby;
mod page_cache;
mod pages;
mod proxy;
