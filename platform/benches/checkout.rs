//! `cargo bench -p jishi-platform --bench checkout`: checkout throughput on the embedded SQLite
//! platform over HTTP — 64 concurrent shoppers each creating and paying orders — and a check that
//! nothing was oversold, once with every commit synced (`synchronous = FULL`, the platform's
//! setting) and once with `NORMAL`, in the same run so the two compare. Prints one figure a line,
//! prefixed by the setting; asserts nothing about speed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jishi_platform::db::Durability;
use jishi_platform::orders::{OrderLimits, RateLimit};
use jishi_platform::Clock;
use serde_json::{json, Value};

// Shared with the tests: this benchmark uses only some of it.
#[allow(dead_code)]
#[path = "../tests/support/mod.rs"]
mod support;

use support::{TestPlatform, GUOMAO};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CLIENTS: usize = 64;
const ORDERS: usize = 20_000;
const INITIAL_STOCK: i64 = 15_000;

fn main() {
    support::block_on(async {
        // Alternated, so neither setting always runs on a warmer machine.
        for (name, durability) in [
            ("full", Durability::Full),
            ("normal", Durability::Normal),
            ("full", Durability::Full),
            ("normal", Durability::Normal),
        ] {
            measure(name, durability).await;
        }
    });
}

async fn measure(name: &str, durability: Durability) {
    {
        let t = TestPlatform::spawn_with(|c| {
            c.durability = durability;
            c.clock = Clock::System;
            // Far above what 64 shoppers at ~15 orders/s each (all from one address) send: this
            // measures checkout, not the limiter, which still runs on every order.
            c.order_limits = OrderLimits {
                per_shopper: RateLimit::new(1_000, Duration::from_millis(1)),
                per_client: RateLimit::new(100_000, Duration::from_micros(10)),
            };
        })
        .await;
        let (platform, base) = (&t.platform, t.root.clone());
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .expect("client");

        let store = t.open_store().await;
        let sku = t.first_sku(&store).await;
        t.set_stock(&store, &sku, INITIAL_STOCK).await;

        let mut shoppers = Vec::new();
        for n in 0..CLIENTS {
            let (phone, ip) = (format!("135{n:08}"), format!("192.0.2.{}", n % 250));
            shoppers.push(t.sign_in(&phone, &ip, GUOMAO).await);
        }

        let started = Instant::now();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = shoppers
            .into_iter()
            .map(|support::Shopper { token, address_id, .. }| {
                let (http, base, store, sku, next) =
                    (http.clone(), base.clone(), store.clone(), sku.clone(), next.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let (mut created, mut sold_out, mut failed) = (0usize, 0usize, 0usize);
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= ORDERS {
                            break;
                        }
                        let t = Instant::now();
                        let res = http
                            .post(format!("{base}/v1/orders"))
                            .bearer_auth(&token)
                            .header(jishi_api::headers::IDEMPOTENCY_KEY, format!("bench-{i}"))
                            .json(&json!({ "store_id": store, "items": [{ "sku": sku, "quantity": 1 }], "address_id": address_id, "slot": "asap" }))
                            .send()
                            .await;
                        let Ok(res) = res else {
                            failed += 1;
                            continue;
                        };
                        match res.status().as_u16() {
                            201 => {
                                let order: Value = res.json().await.unwrap_or(Value::Null);
                                let id = order["id"].as_str().unwrap_or_default();
                                let paid = http
                                    .post(format!("{base}/v1/orders/{id}/pay"))
                                    .bearer_auth(&token)
                                    .json(&json!({ "method": "sandbox" }))
                                    .send()
                                    .await
                                    .is_ok_and(|r| r.status().is_success());
                                if paid {
                                    created += 1;
                                } else {
                                    failed += 1;
                                }
                            }
                            409 => sold_out += 1,
                            _ => failed += 1,
                        }
                        latencies.push(t.elapsed());
                    }
                    (latencies, created, sold_out, failed)
                })
            })
            .collect();
        let mut latencies: Vec<Duration> = Vec::new();
        let (mut created, mut sold_out, mut failed) = (0, 0, 0);
        for t in tasks {
            let (l, c, s, f) = t.await.expect("client task");
            latencies.extend(l);
            created += c;
            sold_out += s;
            failed += f;
        }
        let wall = started.elapsed();
        latencies.sort_unstable();
        let pct =
            |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
        let stock = t.stock(&store, &sku).await;
        let ordered: i64 =
            sqlx::query_scalar("SELECT COALESCE(SUM(quantity), 0) FROM order_items WHERE sku = ?")
                .bind(&sku)
                .fetch_one(platform.pool())
                .await
                .expect("ordered");
        println!("[{name}] checkout_synchronous: {name}");
        println!("[{name}] checkout_clients: {CLIENTS}");
        println!("[{name}] checkout_attempts: {ORDERS}");
        println!("[{name}] checkout_orders_created_and_paid: {created}");
        println!("[{name}] checkout_sold_out: {sold_out}");
        println!("[{name}] checkout_failures: {failed}");
        println!(
            "[{name}] checkout_orders_per_s: {:.0}",
            created as f64 / wall.as_secs_f64()
        );
        println!("[{name}] checkout_p50_ms: {:.2}", pct(0.50));
        println!("[{name}] checkout_p99_ms: {:.2}", pct(0.99));
        println!("[{name}] checkout_stock_left: {stock}");
        println!(
            "[{name}] checkout_oversold: {}",
            if stock >= 0 && stock + ordered == INITIAL_STOCK && ordered as usize == created {
                "no"
            } else {
                "YES"
            }
        );
    }
}
