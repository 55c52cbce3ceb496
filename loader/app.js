/* Talk loader: served as the snippet's app.js and kept under 1.5 KB gzip. Makes the seed's
 * ap3c snippet work verbatim (cmd queue, init, track), gives the page ap3c.talk, and draws the
 * launcher itself. Everything else (embed.js, then the WASM messenger in the page or in a frame)
 * is fetched only when needed: on hover, focus or click of the launcher, once the browser is
 * idle, or at once while messages are unread. Dependency-free; types in ap3c.d.ts. */
(function (w, d) {
  var ap3c = (w.ap3c = w.ap3c || {});
  if (ap3c._talkLoaded) return; // the snippet was pasted twice
  ap3c._talkLoaded = true;

  // Widget files live beside this script; computed now, currentScript is gone later.
  var me = d.currentScript;
  var assetBase = me && me.src ? new URL('.', me.src).href : '';
  var talk = (ap3c.talk = ap3c.talk || {});
  var calls = []; // page calls until embed.js takes over: replayed in order, never lost
  var config; // set by ap3c.init
  var host; // <ap3c-talk>, once the launcher is drawn
  var started;
  var wanted; // open() was called before the launcher was drawn
  var pendingViews = 0; // ap3c.track calls before ap3c.init
  var cookieOptions = {};
  var COOKIE = 'ap3c_talk_vid';
  var store;
  try { store = w.localStorage; } catch (e) { /* storage blocked */ }

  'setVerifiedSession open close show hide shutdown onReady onUnreadCountChange'
    .split(' ')
    .forEach(function (name) {
      talk[name] = function (arg) {
        calls.push([name, arg]);
        if (name == 'open') load((wanted = 1)); // e.g. a click on the drawn launcher
      };
    });
  // Single-page apps call this after a route change: records the page view, keeps the widget.
  talk.route = track;

  function randomId() {
    var bytes = w.crypto.getRandomValues(new Uint8Array(16));
    var hex = '';
    for (var i = 0; i < 16; i++) hex += (bytes[i] + 256).toString(16).slice(1);
    return hex;
  }

  function readCookie() {
    var m = d.cookie.match(new RegExp('(?:^|; )' + COOKIE + '=([0-9a-f]{32})(?:;|$)'));
    return m && m[1];
  }

  // First-party on the host page in every mode (a frame gets the id from here), scoped by
  // cookieDomains and talk.cookiePath so two workspaces on one site don't mix; localStorage
  // when cookies are refused.
  function storeVisitorId(id) {
    var hostname = location.hostname;
    var domain = (cookieOptions.cookieDomains || []).filter(function (dom) {
      var bare = String(dom).replace(/^\./, '');
      return hostname === bare || hostname.slice(-bare.length - 1) === '.' + bare;
    })[0];
    d.cookie = COOKIE + '=' + id + '; path=' + (config.talk.cookiePath || '/') +
      '; max-age=63072000; SameSite=Lax' + (domain ? '; domain=' + domain : '') +
      (location.protocol === 'https:' ? '; Secure' : '');
    try {
      if (readCookie() === id) store.removeItem(COOKIE);
      else store.setItem(COOKIE, id);
    } catch (e) { /* nowhere to keep it: one visit only */ }
    return id;
  }

  // A page view, for the agents' view of the visitor's browsing. The JSON goes without a
  // Content-Type (so as text/plain): a CORS simple request, no preflight; the server takes it.
  function track() {
    if (!config) return pendingViews++;
    w.fetch(config.apiUrl + '/v1/talk/track', {
      method: 'POST',
      keepalive: true,
      body: JSON.stringify({
        capture_key: config.captureKey,
        visitor_id: config.visitorId,
        url: location.href,
        title: d.title, // empty: none (the server says so)
        referrer: d.referrer
      })
    }).catch(function () { /* analytics must never break the page */ });
  }

  // The launcher, styled by the server from the workspace's settings, in the <ap3c-talk> host
  // where the messenger later mounts and replaces it: a shadow root with a constructable
  // stylesheet, so no style attribute and no page CSS gets in.
  function draw(css) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    host = d.createElement('ap3c-talk');
    var root = host.attachShadow({ mode: 'open' });
    root.adoptedStyleSheets = [sheet];
    // The icon comes with the stylesheet (a clip-path): no markup from anywhere.
    root.innerHTML = '<button type=button class=f aria-label="Open chat"></button>';
    root.firstChild.onpointerenter = root.firstChild.onfocus = load;
    root.firstChild.onclick = function () { talk.open(); };
    d.body.appendChild(host);
    // Unread messages or an early open(): now. Otherwise once the page is idle.
    if (wanted || (store && store.ap3c_talk_unread > 0)) load();
    else (w.requestIdleCallback || setTimeout)(load);
  }

  function load() {
    if (started || !host) return;
    started = 1;
    var base = assetBase || config.apiUrl + '/';
    import(base + 'widget/embed.js').then(function (embed) {
      embed.start({
        base: base,
        config: config,
        talk: talk,
        calls: calls,
        host: host,
        store: store,
        forget: function () { return storeVisitorId(randomId()); }
      });
    }, function (err) { console.error('[talk]', err); });
  }

  ap3c.init = function (captureKey, apiUrl, options) {
    options = cookieOptions = options || {};
    var known = readCookie() || (store && store.getItem(COOKIE));
    // embed.js reads the rest of the talk options (token, language, mode).
    config = {
      captureKey: String(captureKey),
      apiUrl: String(apiUrl || '').replace(/\/+$/, '') || location.origin,
      talk: options.talk || {}
    };
    config.visitorId = storeVisitorId(/^[0-9a-f]{32}$/.test(known) ? known : randomId());
    for (; pendingViews > 0; pendingViews--) track();
    if (options.disableTalk) return;
    // 204: the widget is switched off. Unreachable (server down, connect-src): no launcher.
    w.fetch(config.apiUrl + '/v1/talk/widget/launcher.css?capture_key=' + encodeURIComponent(config.captureKey))
      .then(function (response) { return response.status == 200 && response.text(); })
      .then(function (css) { if (css) draw(css); }, function () {});
  };

  ap3c.track = track;

  // Run what the snippet queued, then make later pushes run at once.
  var queued = ap3c.cmd || [];
  ap3c.cmd = {
    push: function () {
      for (var i = 0; i < arguments.length; i++) run(arguments[i]);
    }
  };
  function run(fn) {
    try {
      if (typeof fn === 'function') fn();
    } catch (err) {
      console.error('[talk] ap3c.cmd:', err);
    }
  }
  for (var i = 0; i < queued.length; i++) run(queued[i]);
})(window, document);
