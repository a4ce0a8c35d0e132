//! Small pieces shared by pages: the site header, error notices, the 404 page.

use jishi_api::LatLng;
use leptos::prelude::*;
use leptos_meta::{Script, Stylesheet, Title};
use leptos_router::hooks::use_query_map;

use crate::error::{set_response_status, AppError};
use crate::i18n::td_string;
use crate::lang::{describe_point, locale, switch_href, tag, Locale};
use crate::links::{cart_href, coord, home_at, live_list_href, CHANGE_LOCATION, HOME, ME, SEARCH};

/// The point in the current URL, if it has a valid one.
pub fn use_location() -> Memo<Option<LatLng>> {
    let query = use_query_map();
    Memo::new(move |_| query.with(|q| LatLng::parse(q.get_str("lat"), q.get_str("lng")).ok()))
}

#[component]
pub fn SiteHeader() -> impl IntoView {
    let at = use_location();
    let query = use_query_map();
    let home = move || home_at(at.get());
    let search_q = move || query.with(|q| q.get("q").unwrap_or_default());
    let l = locale();
    view! {
        <header class="site-header">
            <a class="brand" href=home aria-label=td_string!(l, common.home_label)>{td_string!(l, common.brand)}</a>
            <a class="location" data-testid="location" href=CHANGE_LOCATION title=td_string!(l, common.change_location)>
                <span class="pin">{td_string!(l, common.deliver_to)}</span>
                {move || match at.get() {
                    Some(p) => describe_point(p, l),
                    None => td_string!(l, common.choose_location).to_owned(),
                }}
            </a>
            <form class="site-search" method="get" action=SEARCH role="search" aria-label=td_string!(l, common.search_site)>
                {move || at.get().map(|p| view! {
                    <input type="hidden" name="lat" value=coord(p.lat())/>
                    <input type="hidden" name="lng" value=coord(p.lng())/>
                })}
                <input type="search" name="q" placeholder=td_string!(l, common.search_placeholder) aria-label=td_string!(l, common.search_label)
                    data-testid="search-input" maxlength="40" value=search_q/>
                <button type="submit">{td_string!(l, common.search)}</button>
            </form>
            <nav class="account-links">
                <a href=move || live_list_href(at.get()) data-testid="live-link">{td_string!(l, common.nav_live)}</a>
                <a href=move || cart_href(at.get()) data-testid="cart-link">{td_string!(l, common.nav_cart)}</a>
                <a href=ME data-testid="me-link">{td_string!(l, common.nav_me)}</a>
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
///
/// While a lazy island starts, its wasm files are fetched a few per task
/// ([`spread_wasm_fetches`]).
#[component]
pub fn IslandsLoader(options: LeptosOptions) -> impl IntoView {
    static SCRIPT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let script = SCRIPT.get_or_init(|| {
        let html = view! { <HydrationScripts options=options.clone() islands=true/> }.to_html();
        loader_script(&html).map(spread_wasm_fetches)
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

/// Where Leptos's loader starts an island (a lazy island's function returns a promise).
const START_ISLAND: &str = "const res = islandFn(el);";

/// Wraps `window.fetch` while an island starts (until its promise settles): a `.wasm` file is
/// then fetched in a later task, 4 per task. cargo-leptos's wasm-split loader fetches every file a
/// lazy island needs at once, in one task: about 75 for the live room, each fetch about a
/// millisecond of a phone's main thread (4 in Lighthouse's mobile simulation), so one task of
/// ~300 ms, most of the room's blocking time. Four fetches stay well under Lighthouse's 50 ms
/// even on a busy machine. Other requests go through as they are.
const SPREAD_WASM_FETCHES: &str = r#"const spreadWasmFetches = (start) => {
	const fetch = window.fetch;
	const queue = [];
	const next = () => {
		for (const go of queue.splice(0, 4)) go();
		if (queue.length) setTimeout(next);
	};
	window.fetch = (input, init) => String(input).endsWith(".wasm")
		? new Promise((resolve, reject) => {
			if (queue.push(() => fetch.call(window, input, init).then(resolve, reject)) === 1) setTimeout(next);
		})
		: fetch.call(window, input, init);
	const restore = () => { window.fetch = fetch; };
	let res;
	try {
		res = start();
	} finally {
		if (res && res.then) res.then(restore, restore); else restore();
	}
	return res;
};
"#;

/// Leptos's loader, its islands started through [`SPREAD_WASM_FETCHES`]. Unchanged if it does not
/// start them the way this expects (another Leptos version).
fn spread_wasm_fetches(script: &str) -> String {
    if script.matches(START_ISLAND).count() != 1 {
        return script.to_owned();
    }
    format!(
        "{SPREAD_WASM_FETCHES}{}",
        script.replace(
            START_ISLAND,
            "const res = spreadWasmFetches(() => islandFn(el));"
        )
    )
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
    let l = locale();
    view! {
        <section class="notice error" role="alert" data-testid="error-notice">
            {heading.map(|h| view! { <h1>{h}</h1> })}
            <p>{error.message()}</p>
            <p>
                <a href=CHANGE_LOCATION>{td_string!(l, common.rechoose_location)}</a>" · "
                <a href="">{td_string!(l, common.retry)}</a>
            </p>
        </section>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    set_response_status(404);
    let l = locale();
    let title = format!(
        "{} · {}",
        td_string!(l, common.not_found_title),
        td_string!(l, common.brand)
    );
    view! {
        <Title text=title/>
        <section class="notice" data-testid="not-found">
            <h1>{td_string!(l, common.not_found_title)}</h1>
            <p>{td_string!(l, common.not_found_text)}</p>
            <p><a href=HOME>{td_string!(l, common.not_found_home)}</a></p>
        </section>
    }
}

/// The footer: what Jishi is, and the language switch (a plain link to this page with `?lang=`,
/// which the server keeps in a cookie; works without scripts).
#[component]
pub fn SiteFooter() -> impl IntoView {
    let l = locale();
    let location = leptos_router::hooks::use_location();
    let other = match l {
        Locale::zh_CN => Locale::en,
        Locale::en => Locale::zh_CN,
    };
    let href = move || {
        let query: Vec<(String, String)> = location
            .query
            .get()
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v))
            .collect();
        switch_href(
            &location.pathname.get(),
            query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            other,
        )
    };
    view! {
        <footer class="site-footer">
            <p>{td_string!(l, common.tagline)}</p>
            <p>
                <a href=href hreflang=tag(other) lang=tag(other) data-testid="lang-switch">
                    {td_string!(l, common.switch_to)}
                </a>
            </p>
        </footer>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn the_loader_starts_islands_with_their_wasm_fetches_spread() {
        let options = LeptosOptions::builder().output_name("jishi").build();
        let script = Owner::new().with(|| {
            let html = view! { <HydrationScripts options islands=true/> }.to_html();
            loader_script(&html).map(spread_wasm_fetches)
        });
        let script = script.expect("Leptos's islands loader");
        assert!(script.starts_with("const spreadWasmFetches"), "{script}");
        assert!(
            script.contains("const res = spreadWasmFetches(() => islandFn(el));"),
            "{script}"
        );
        assert!(!script.contains(START_ISLAND), "{script}");
        // Still one script: nothing that would end it early.
        assert!(!script.contains("</"), "{script}");
    }

    #[test]
    fn a_loader_of_another_shape_is_left_as_it_is() {
        let other = "(() => { hydrate(); })()";
        assert_eq!(spread_wasm_fetches(other), other);
    }
}
