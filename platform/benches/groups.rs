//! `cargo bench -p jishi-platform --bench groups`: group-buy joins on the embedded SQLite platform
//! over HTTP — 64 concurrent shoppers racing 8 at a time for the 4 free seats of each of 1,000
//! groups of five, each winner paying at once (the fifth payment forms the group) — and a check
//! that no group got more members than seats. Prints one figure a line; asserts nothing about
//! speed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jishi_platform::orders::{OrderLimits, RateLimit};
use jishi_platform::Clock;
use reqwest::Method;
use serde_json::{json, Value};

// Shared with the tests: this benchmark uses only some of it.
#[allow(dead_code)]
#[path = "../tests/support/mod.rs"]
mod support;

use support::{Request, Shopper, TestPlatform, GUOMAO};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const JOINERS: usize = 64;
const STARTERS: usize = 8;
const GROUPS: usize = 1_000;
const SIZE: usize = 5;
/// Shoppers racing for each group's free seats (twice the seats).
const RACERS: usize = 8;
const INITIAL_STOCK: i64 = 1_000_000;

/// Pays `order` in the sandbox as `s`: the answer, or `None` if none came.
async fn pay(http: &reqwest::Client, base: &str, s: &Shopper, order: &str) -> Option<(u16, Value)> {
    let url = format!("{base}/v1/orders/{order}/pay");
    post(http, url, s, None, json!({ "method": "sandbox" })).await
}

/// `POST url` as `s`: the answer, or `None` if none came.
async fn post(
    http: &reqwest::Client,
    url: String,
    s: &Shopper,
    key: Option<String>,
    body: Value,
) -> Option<(u16, Value)> {
    Request::to(http, Method::POST, url)
        .by(s)
        .key(key.as_deref())
        .json(body)
        .try_send()
        .await
        .ok()
}

fn main() {
    support::block_on(async {
        let plenty = RateLimit::new(1_000_000, Duration::from_micros(1));
        let t = TestPlatform::spawn_with(|c| {
            c.clock = Clock::System;
            // This measures seats, not the limiter (which still runs on every join).
            c.order_limits = OrderLimits {
                per_shopper: plenty,
                per_client: plenty,
            };
        })
        .await;
        let (platform, base) = (&t.platform, t.root.clone());
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(JOINERS)
            .build()
            .expect("client");
        let (store, product) = support::first_group_offer(&http, &base).await;
        let sku = product["sku"].as_str().expect("sku").to_owned();
        support::set_group_size(platform.pool(), &store, &sku, SIZE as i64).await;
        t.set_stock(&store, &sku, INITIAL_STOCK).await;

        let mut starters = Vec::new();
        for n in 0..STARTERS {
            let (phone, ip) = (format!("133{n:08}"), format!("198.51.100.{n}"));
            starters.push(t.sign_in(&phone, &ip, GUOMAO).await);
        }
        let mut joiners = Vec::new();
        for n in 0..JOINERS {
            let (phone, ip) = (format!("134{n:08}"), format!("192.0.2.{}", n % 250));
            joiners.push(t.sign_in(&phone, &ip, GUOMAO).await);
        }

        // The groups, started and paid (so they are open), a few starters at a time.
        let next = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = starters
            .into_iter()
            .map(|s| {
                let (http, base, store, sku, next) = (
                    http.clone(),
                    base.clone(),
                    store.clone(),
                    sku.clone(),
                    next.clone(),
                );
                tokio::spawn(async move {
                    let mut groups = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= GROUPS {
                            return groups;
                        }
                        let body =
                            json!({ "store_id": store, "sku": sku, "address_id": s.address_id });
                        let (status, started) = post(
                            &http,
                            format!("{base}/v1/groups"),
                            &s,
                            Some(format!("g{i}")),
                            body,
                        )
                        .await
                        .expect("start");
                        assert_eq!(status, 201, "{started}");
                        let order = started["order"]["id"].as_str().expect("order");
                        let (status, paid) = pay(&http, &base, &s, order).await.expect("pay");
                        assert_eq!(status, 200, "{paid}");
                        groups.push((i, started["group"]["id"].as_str().expect("id").to_owned()));
                    }
                })
            })
            .collect();
        let mut groups = vec![String::new(); GROUPS];
        for t in tasks {
            for (i, id) in t.await.expect("starter task") {
                groups[i] = id;
            }
        }
        let groups = Arc::new(groups);

        // The race: attempt i goes to group i / RACERS, so each group's racers are in flight
        // together; a winner pays at once.
        let started = Instant::now();
        let next = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = joiners
            .into_iter()
            .map(|s| {
                let (http, base, groups, next) =
                    (http.clone(), base.clone(), groups.clone(), next.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let (mut joined, mut full, mut refused, mut failed) =
                        (0usize, 0usize, 0usize, 0usize);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= GROUPS * RACERS {
                            break;
                        }
                        let group = &groups[i / RACERS];
                        let t = Instant::now();
                        let answer = post(
                            &http,
                            format!("{base}/v1/groups/{group}/join"),
                            &s,
                            Some(format!("j{i}")),
                            json!({ "address_id": s.address_id }),
                        )
                        .await;
                        latencies.push(t.elapsed());
                        match answer {
                            Some((201, body)) => {
                                let order = body["order"]["id"].as_str().unwrap_or_default();
                                let paid = pay(&http, &base, &s, order)
                                    .await
                                    .is_some_and(|(status, _)| status == 200);
                                if paid {
                                    joined += 1;
                                } else {
                                    failed += 1;
                                }
                            }
                            Some((409, body)) if body["error"]["code"] == "group_full" => full += 1,
                            Some((409, _)) => refused += 1,
                            _ => failed += 1,
                        }
                    }
                    (latencies, joined, full, refused, failed)
                })
            })
            .collect();
        let mut latencies: Vec<Duration> = Vec::new();
        let (mut joined, mut full, mut refused, mut failed) = (0, 0, 0, 0);
        for t in tasks {
            let (l, j, f, r, x) = t.await.expect("joiner task");
            latencies.extend(l);
            joined += j;
            full += f;
            refused += r;
            failed += x;
        }
        let wall = started.elapsed();
        latencies.sort_unstable();
        let pct =
            |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;

        let pool = platform.pool();
        let overfilled: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM buy_groups g
             WHERE (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id AND m.released = 0) > g.size",
        )
        .fetch_one(pool)
        .await
        .expect("overfilled");
        let members: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM group_members WHERE released = 0")
                .fetch_one(pool)
                .await
                .expect("members");
        let formed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM buy_groups WHERE status <> 'forming'")
                .fetch_one(pool)
                .await
                .expect("formed");
        let stock = t.stock(&store, &sku).await;
        let reserved: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM orders WHERE group_id IS NOT NULL AND stock_returned = 0",
        )
        .fetch_one(pool)
        .await
        .expect("reserved");
        let exact = overfilled == 0
            && members as usize == GROUPS + joined
            && INITIAL_STOCK - stock == reserved
            && reserved == members;
        println!("group_joiners: {JOINERS}");
        println!("group_groups: {GROUPS}");
        println!("group_size: {SIZE}");
        println!("group_join_attempts: {}", GROUPS * RACERS);
        println!("group_joins_paid: {joined}");
        println!("group_full_refusals: {full}");
        println!("group_other_refusals: {refused}");
        println!("group_failures: {failed}");
        println!("group_formed: {formed}");
        println!(
            "group_joins_per_s: {:.0}",
            joined as f64 / wall.as_secs_f64()
        );
        println!(
            "group_join_attempts_per_s: {:.0}",
            (GROUPS * RACERS) as f64 / wall.as_secs_f64()
        );
        println!("group_join_p50_ms: {:.2}", pct(0.50));
        println!("group_join_p99_ms: {:.2}", pct(0.99));
        println!("group_overfilled: {}", if exact { "no" } else { "YES" });
    });
}
