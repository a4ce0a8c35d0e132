// Jishi's live-shopping widget loader: <script src="https://SHOP/widget/v1/loader.js"
// data-room="ROOM" async></script>. It puts an open Shadow DOM where the tag stands (the host
// page's CSS cannot reach inside, and nothing outside the box is touched), and loads the widget's
// code only once the box scrolls into view.
(() => {
  const script = document.currentScript;
  if (!script || !script.dataset.room) return;
  const base = new URL('.', script.src);
  const lang = script.dataset.lang || document.documentElement.lang || navigator.language || 'zh-CN';
  const host = document.createElement('div');
  host.className = 'jishi-live';
  host.style.display = 'block';
  script.after(host);
  const root = host.attachShadow({ mode: 'open' });
  const css = document.createElement('link');
  css.rel = 'stylesheet';
  css.href = new URL('widget.css', base).href;
  root.append(css);
  const start = async () => {
    const widget = await import(new URL('jishi-widget.js', base).href);
    await widget.default({ module_or_path: new URL('jishi-widget_bg.wasm', base) });
    widget.mount(root, script.dataset.room, base.origin, lang);
  };
  if (!('IntersectionObserver' in window)) {
    start();
    return;
  }
  const seen = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) {
      seen.disconnect();
      start();
    }
  });
  // An empty box has no area to intersect: give it one while it waits.
  host.style.minHeight = '1px';
  seen.observe(host);
})();
