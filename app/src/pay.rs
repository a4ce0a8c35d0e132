//! Paying an order, the one way every page does it (the order page, the live buy sheet, starting
//! a group and a seat in one): in the sandbox here, or, inside a mini-program, by handing it to
//! the host app's pay page ([`crate::embed::hand_payment_to_host`]) and reading the order again
//! when the page is back in front ([`crate::embed::on_foreground`]).
//!
//! [`pay_order`] pays; [`Payment`] is one order's payment on a page (made once per island);
//! [`PayPanel`] shows an unpaid order: the time left to pay on the platform's clock, the pay
//! button, the host's turn and what went wrong.

use jishi_api::money::format_yuan;
use jishi_api::orders::{Order, OrderStatus, PayMethod, PayOrder};
use leptos::prelude::*;

use crate::api_client;
use crate::clock::{clock_skew_ms, mm_ss, ms_until, time_left};
use crate::error::AppError;
use crate::i18n::td_string;
use crate::lang::{beijing_time, locale};
use jishi_api::routes;

/// What became of paying.
pub enum Paid {
    /// The host app's pay page has it (inside a mini-program).
    ByHost,
    /// Paid here in the sandbox (the order as it is now), or refused.
    Here(Box<Result<Order, AppError>>),
}

/// Pays `order_id`: hands it to the host app inside a mini-program, else pays in the sandbox.
pub async fn pay_order(order_id: &str) -> Paid {
    if crate::embed::hand_payment_to_host(order_id) {
        return Paid::ByHost;
    }
    let body = PayOrder {
        method: PayMethod::Sandbox,
    };
    Paid::Here(Box::new(
        api_client::post::<Order, _>(&routes::PAY_ORDER.path(&[order_id]), &body).await,
    ))
}

/// One order's payment on a page: the order as last read, and how paying it goes.
#[derive(Clone, Copy)]
pub struct Payment {
    order: RwSignal<Option<Order>>,
    /// The platform's clock less this device's.
    skew_ms: StoredValue<f64>,
    handed_to_host: RwSignal<bool>,
    busy: RwSignal<bool>,
    error: RwSignal<Option<String>>,
}

impl Payment {
    /// Made once per island. `skew_ms` counts the time left to pay until an order says the
    /// platform's time itself (`Order::now`): 0 for the device's clock, or e.g. the skew from
    /// the group the order is a seat of.
    pub fn new(order: Option<Order>, skew_ms: f64) -> Self {
        let this = Self {
            order: RwSignal::new(None),
            skew_ms: StoredValue::new(skew_ms),
            handed_to_host: RwSignal::new(false),
            busy: RwSignal::new(false),
            error: RwSignal::new(None),
        };
        if let Some(order) = order {
            this.show(order);
        }
        // Back in front (the host's pay page closed, or the host paid an order that arrived
        // unpaid from elsewhere meanwhile): read the order again while it waits for payment.
        crate::embed::on_foreground(move || {
            if this.handed_to_host.get_untracked() || this.waiting_untracked() {
                this.reread();
            }
        });
        this
    }

    /// The order as last read (`None` before there is one).
    pub fn order(self) -> ReadSignal<Option<Order>> {
        self.order.read_only()
    }

    /// Shows `order` as the platform answered it.
    pub fn show(self, order: Order) {
        if order.now.is_some() {
            self.skew_ms.set_value(clock_skew_ms(order.now.as_deref()));
        }
        if order.status != OrderStatus::PendingPayment {
            self.handed_to_host.set(false);
        }
        self.order.set(Some(order));
    }

    /// Whether the order waits for payment (tracked).
    pub fn waiting(self) -> bool {
        self.order.with(|o| is_waiting(o.as_ref()))
    }

    fn waiting_untracked(self) -> bool {
        self.order.with_untracked(|o| is_waiting(o.as_ref()))
    }

    /// Pays the order shown, if it waits for payment.
    pub fn pay(self) {
        let Some(id) = self.order.with_untracked(|o| {
            o.as_ref()
                .filter(|o| is_waiting(Some(o)))
                .map(|o| o.id.clone())
        }) else {
            return;
        };
        self.busy.set(true);
        self.error.set(None);
        leptos::task::spawn_local(async move {
            match pay_order(&id).await {
                Paid::ByHost => self.handed_to_host.set(true),
                Paid::Here(answer) => match *answer {
                    Ok(order) => self.show(order),
                    Err(e) => self.error.set(Some(e.message())),
                },
            }
            self.busy.set(false);
        });
    }

    fn reread(self) {
        let Some(id) = self
            .order
            .with_untracked(|o| o.as_ref().map(|o| o.id.clone()))
        else {
            return;
        };
        leptos::task::spawn_local(async move {
            match api_client::get::<Order>(&routes::ORDER.path(&[&id])).await {
                Ok(order) => self.show(order),
                Err(e) => self.error.set(Some(e.message())),
            }
        });
    }

    /// Milliseconds left to pay on the platform's clock, while the order waits for payment.
    fn ms_left(self) -> Option<f64> {
        let skew = self.skew_ms.get_value();
        self.order.with_untracked(|o| {
            o.as_ref()
                .filter(|o| is_waiting(Some(o)))
                .and_then(|o| o.pay_before.as_deref())
                .map(|until| ms_until(until, skew))
        })
    }
}

fn is_waiting(order: Option<&Order>) -> bool {
    order.is_some_and(|o| o.status == OrderStatus::PendingPayment)
}

/// An order waiting for payment: the time left to pay, the pay button (`data-testid` given),
/// the host's turn and what went wrong. Nothing once the order is paid or gone.
#[component]
pub fn PayPanel(payment: Payment, testid: &'static str) -> impl IntoView {
    let l = locale();
    let left = time_left(move || payment.ms_left());
    let over = move || left.get().is_some_and(|ms| ms <= 0.0);
    move || {
        let (total_fen, pay_before) = payment.order.with(|o| {
            o.as_ref()
                .filter(|o| is_waiting(Some(o)))
                .map(|o| (o.total_fen, o.pay_before.clone()))
        })?;
        let countdown = {
            let pay_before = pay_before.clone();
            move || match left.get() {
                Some(ms) if ms > 0.0 => td_string!(l, orders.pay.time_left, time = mm_ss(ms)),
                Some(_) => td_string!(l, orders.pay.time_up).to_owned(),
                // The server (and the moment before the browser counts): until when.
                None => pay_before
                    .as_deref()
                    .and_then(|t| beijing_time(t, l))
                    .map(|when| td_string!(l, orders.pay.pay_by, when = when))
                    .unwrap_or_default(),
            }
        };
        Some(view! {
            <div class="pay-panel">
                <p class="pay-countdown" data-testid="pay-countdown" role="timer" class:over=over
                    data-pay-before=pay_before
                    data-seconds-left=move || left.get().map(|ms| (ms.max(0.0) / 1000.0).ceil() as u64)>
                    {countdown}
                </p>
                // The timer is not read out each second; its end is, here.
                <p class="visually-hidden" role="status" data-testid="pay-announcement">
                    {move || if over() { td_string!(l, orders.pay.time_up) } else { "" }}
                </p>
                <button type="button" class="primary big" data-testid=testid disabled=payment.busy
                    on:click=move |_| payment.pay()>
                    {td_string!(l, orders.pay.button, amount = format_yuan(total_fen))}
                </button>
                {move || payment.handed_to_host.get().then(|| view! {
                    <p class="hint" data-testid="paying-in-host">{td_string!(l, orders.pay.in_host)}</p>
                })}
                {move || payment.error.get().map(|e| view! {
                    <p class="notice error" role="alert" data-testid="pay-error">{e}</p>
                })}
            </div>
        })
    }
}
