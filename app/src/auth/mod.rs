//! Signing in with a phone number and an SMS code (`/login`), and signing out.

use jishi_api::auth::{parse_code, LoginRequest, Me, Phone, SmsCodeRequest, SmsCodeSent};
use jishi_api::routes;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::i18n::td_string;
use crate::lang::locale;
use crate::links::{go_to, safe_next, ME};

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let next = safe_next(query.with_untracked(|q| q.get("next")).as_deref());
    let l = locale();
    view! {
        <Title text=format!("{} · {}", td_string!(l, auth.sign_in_title), td_string!(l, common.brand))/>
        <h1>{td_string!(l, auth.phone_sign_in)}</h1>
        <p class="lead">{td_string!(l, auth.sign_in_lead)}</p>
        <SignInForm next/>
    }
}

/// Phone, SMS code, sign in; then a full page load of `next` (already checked by `safe_next`).
#[island(lazy)]
fn SignInForm(next: String) -> impl IntoView {
    crate::hydration::island_hydrated();
    let next = StoredValue::new(next);
    let phone = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let sent = RwSignal::new(None::<SmsCodeSent>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let l = locale();

    let send_code = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        // The same check the platform makes, so a typo is caught without a round trip.
        let Ok(phone) = Phone::parse(&phone.get_untracked()) else {
            return error.set(Some(td_string!(l, auth.invalid_phone).to_owned()));
        };
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let body = SmsCodeRequest {
                phone: phone.as_str().to_owned(),
            };
            match crate::api_client::post::<SmsCodeSent, _>(routes::SMS_CODE.pattern(), &body).await
            {
                Ok(s) => sent.set(Some(s)),
                Err(e) => error.set(Some(e.message())),
            }
            busy.set(false);
        });
    };
    let sign_in = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(phone) = Phone::parse(&phone.get_untracked()) else {
            return error.set(Some(td_string!(l, auth.invalid_phone).to_owned()));
        };
        let Ok(code) = parse_code(&code.get_untracked()) else {
            return error.set(Some(td_string!(l, auth.invalid_code).to_owned()));
        };
        busy.set(true);
        error.set(None);
        let next = next.get_value();
        leptos::task::spawn_local(async move {
            let body = LoginRequest {
                phone: phone.as_str().to_owned(),
                code,
            };
            match crate::api_client::post::<Me, _>(routes::LOGIN.pattern(), &body).await {
                Ok(_) => go_to(&next),
                Err(e) => {
                    error.set(Some(e.message()));
                    busy.set(false);
                }
            }
        });
    };

    view! {
        <form class="sign-in" on:submit=send_code>
            <label>{td_string!(l, auth.phone)}
                <input type="tel" inputmode="numeric" autocomplete="tel" maxlength="20" required
                    data-testid="phone-input" placeholder=td_string!(l, auth.phone_placeholder)
                    prop:value=phone on:input=move |ev| phone.set(event_target_value(&ev))/>
            </label>
            <button type="submit" data-testid="send-code" disabled=busy>
                {move || if sent.get().is_some() { td_string!(l, auth.resend_code) } else { td_string!(l, auth.send_code) }}
            </button>
        </form>
        {move || sent.get().map(|s| view! {
            <p class="notice" data-testid="code-sent">{td_string!(l, auth.code_sent, phone = &s.phone_masked, minutes = s.expires_in_s / 60)}</p>
            {s.demo_code.map(|c| view! {
                <p class="notice demo">{td_string!(l, auth.demo_code)}<strong data-testid="demo-code">{c}</strong></p>
            })}
        })}
        <form class="sign-in" on:submit=sign_in>
            <label>{td_string!(l, auth.code)}
                <input type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="6" required
                    data-testid="code-input" placeholder=td_string!(l, auth.code_placeholder)
                    prop:value=code on:input=move |ev| code.set(event_target_value(&ev))/>
            </label>
            <button type="submit" class="primary" data-testid="sign-in" disabled=busy>{td_string!(l, auth.sign_in)}</button>
        </form>
        {move || error.get().map(|e| view! { <p class="notice error" role="alert" data-testid="sign-in-error">{e}</p> })}
    }
}

/// Signs out (the server clears the cookie), then `/me` again.
#[island(lazy)]
pub fn SignOutButton() -> impl IntoView {
    crate::hydration::island_hydrated();
    let l = locale();
    let sign_out = move |_| {
        leptos::task::spawn_local(async move {
            // Whatever the answer, the cookie is cleared by the server on this path.
            let _ = crate::api_client::post::<(), _>(routes::LOGOUT.pattern(), &()).await;
            go_to(ME);
        });
    };
    view! { <button type="button" data-testid="sign-out" on:click=sign_out>{td_string!(l, auth.sign_out)}</button> }
}
