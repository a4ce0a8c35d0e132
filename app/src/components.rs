//! Small pieces shared by pages: the site header, error notices, the 404 page.

use jishi_api::areas::describe_point;
use jishi_api::LatLng;
use leptos::prelude::*;
use leptos_meta::{Script, Stylesheet, Title};
use leptos_router::hooks::use_query_map;

use crate::error::{set_response_status, AppError};
use crate::links::{coord, home_href};

/// The point in the current URL, if it has a valid one.
pub fn use_location() -> Memo<Option<LatLng>> {
    let query = use_query_map();
    Memo::new(move |_| query.with(|q| LatLng::parse(q.get_str("lat"), q.get_str("lng")).ok()))
}

#[component]
pub fn SiteHeader() -> impl IntoView {
    let at = use_location();
    let query = use_query_map();
    let home = move || at.get().map(home_href).unwrap_or_else(|| "/".to_owned());
    let search_q = move || query.with(|q| q.get("q").unwrap_or_default());
    view! {
        <header class="site-header">
            <a class="brand" href=home aria-label="即时 首页">"即时"</a>
            <a class="location" data-testid="location" href="/?change=1" title="更换位置">
                <span class="pin">"送至"</span>
                {move || match at.get() {
                    Some(p) => describe_point(p),
                    None => "选择位置".to_owned(),
                }}
            </a>
            <form class="site-search" method="get" action="/search" role="search" aria-label="全站搜索">
                {move || at.get().map(|p| view! {
                    <input type="hidden" name="lat" value=coord(p.lat())/>
                    <input type="hidden" name="lng" value=coord(p.lng())/>
                })}
                <input type="search" name="q" placeholder="搜附近门店的商品" aria-label="搜索商品"
                    data-testid="search-input" maxlength="40" value=search_q/>
                <button type="submit">"搜索"</button>
            </form>
            <nav class="account-links">
                <a href=move || crate::links::with_point("/live", at.get()) data-testid="live-link">"直播"</a>
                <a href=move || crate::links::with_point("/cart", at.get()) data-testid="cart-link">"购物车"</a>
                <a href="/me" data-testid="me-link">"我的"</a>
            </nav>
        </header>
    }
}

/// Leptos's islands loader, without the `modulepreload` and `preload` hints `HydrationScripts`
/// puts before it. The loader fetches the JS and wasm at idle, after the page has painted; the
/// hints made the browser fetch them at once, competing with the page for the network and
/// delaying its largest paint on a slow connection (Lighthouse: LCP ~1.8 s with them, ~1.0 s
/// without). Leptos has no switch for that in islands mode (its `defer` is ignored there), so the
/// first render takes the script out of `HydrationScripts`' markup, file names and all, and keeps
/// it for the process: `HydrationScripts` reads the hash file from disk on every render. Its
/// split-wasm manifest serves only the preload hints dropped here.
#[component]
pub fn IslandsLoader(options: LeptosOptions) -> impl IntoView {
    static SCRIPT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let script = SCRIPT.get_or_init(|| {
        let html = view! { <HydrationScripts options=options.clone() islands=true/> }.to_html();
        loader_script(&html).map(str::to_owned)
    });
    match script {
        Some(script) => {
            // The one other thing `HydrationScripts` does in islands mode: nothing outside an
            // island is hydrated, so no resource is serialized into the page for it.
            if let Some(sc) = Owner::current_shared_context() {
                sc.set_is_hydrating(false);
            }
            view! { <script type="module" nonce=leptos::nonce::use_nonce()>{script.clone()}</script> }
                .into_any()
        }
        // Not the markup this expects (a newer Leptos?): the hints are better than no loader.
        None => view! { <HydrationScripts options islands=true/> }.into_any(),
    }
}

/// The body of the one `<script>` element in `html`.
fn loader_script(html: &str) -> Option<&str> {
    let open = html.find("<script")?;
    let body = open + html[open..].find('>')? + 1;
    let close = body + html[body..].find("</script>")?;
    Some(&html[body..close]).filter(|s| !s.trim().is_empty())
}

/// A plain message and a way forward, with the error's HTTP status during SSR.
/// Leaflet's script and styles, for pages where a signed-in shopper may add an address on the
/// map (the new-address form); nothing otherwise, so other pages never load it.
#[component]
pub fn LeafletAssets(when: bool) -> impl IntoView {
    when.then(|| {
        view! {
            <Script src=crate::assets::LEAFLET_JS defer="defer"/>
            <Stylesheet href=crate::assets::LEAFLET_CSS/>
        }
    })
}

#[component]
pub fn ErrorNotice(
    error: AppError,
    #[prop(optional)] heading: Option<&'static str>,
) -> impl IntoView {
    set_response_status(error.http_status());
    view! {
        <section class="notice error" role="alert" data-testid="error-notice">
            {heading.map(|h| view! { <h1>{h}</h1> })}
            <p>{error.message()}</p>
            <p><a href="/?change=1">"重新选择位置"</a>" · "<a href="">"重试"</a></p>
        </section>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    set_response_status(404);
    view! {
        <Title text="页面不存在 · 即时"/>
        <section class="notice" data-testid="not-found">
            <h1>"页面不存在"</h1>
            <p>"这个链接可能已失效。"</p>
            <p><a href="/">"回到首页看看附近门店"</a></p>
        </section>
    }
}
