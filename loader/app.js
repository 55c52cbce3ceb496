/* Talk loader: served as the snippet's app.js. Makes the seed's ap3c snippet work verbatim
 * (cmd queue, init, track), gives the page ap3c.talk, and starts the WASM widget.
 * Kept tiny and dependency-free; types in ap3c.d.ts. */
(function (w, d) {
  'use strict';
  var ap3c = (w.ap3c = w.ap3c || {});
  if (ap3c._talkLoaded) return; // the snippet was pasted twice
  ap3c._talkLoaded = true;

  // Widget files live beside this script; computed now, currentScript is gone later.
  var me = d.currentScript;
  var assetBase = me && me.src ? new URL('.', me.src).href : '';
  var talk = (ap3c.talk = ap3c.talk || {});
  var config = null; // set by ap3c.init
  var widget = null;
  var early = []; // page calls made before the WASM is ready: replayed in order, never lost
  var started = false;
  var unreadListeners = [];
  var readyListeners = [];
  var ready = false;
  var pendingViews = 0; // ap3c.track calls before ap3c.init

  function callWidget(name, arg) {
    if (widget) widget[name](arg);
    else early.push([name, arg]);
  }

  function each(list, arg) {
    list.forEach(function (cb) {
      try { cb(arg); } catch (err) { console.error('[talk] a page callback failed:', err); }
    });
  }

  talk.setVerifiedSession = function (opts) {
    if (!opts || typeof opts.token !== 'string' || !opts.token) {
      throw new TypeError('ap3c.talk.setVerifiedSession expects {token: "<token>"}');
    }
    callWidget('set_verified_session', opts.token);
  };
  talk.open = function () { callWidget('open'); };
  talk.close = function () { callWidget('close'); };
  talk.show = function () { callWidget('show'); };
  talk.hide = function () { callWidget('hide'); };
  talk.onUnreadCountChange = function (cb) { unreadListeners.push(cb); };
  talk.onReady = function (cb) {
    if (ready) cb();
    else readyListeners.push(cb);
  };
  // Forget the visitor, e.g. on logout: a new anonymous visitor id from now on.
  talk.shutdown = function () {
    if (!config) return;
    config.visitorId = randomId();
    config.token = null;
    storeVisitorId(config.visitorId);
    callWidget('shutdown', config.visitorId);
  };
  // Single-page apps call this after a route change: records the page view, keeps the widget.
  talk.route = function () { track(); };

  var COOKIE = 'ap3c_talk_vid';
  var cookieOptions = {};

  function randomId() {
    var bytes = new Uint8Array(16);
    w.crypto.getRandomValues(bytes);
    var hex = '';
    for (var i = 0; i < bytes.length; i++) hex += (bytes[i] + 256).toString(16).slice(1);
    return hex;
  }

  function readCookie() {
    var m = d.cookie.match(new RegExp('(?:^|; )' + COOKIE + '=([0-9a-f]{32})(?:;|$)'));
    return m && m[1];
  }

  function storage() {
    try { return w.localStorage; } catch (e) { return null; } // storage blocked
  }

  // First-party on the host page, scoped by cookieDomains and talk.cookiePath so two
  // workspaces on one site don't mix; localStorage when cookies are refused.
  function storeVisitorId(id) {
    var host = location.hostname;
    var domain = (cookieOptions.cookieDomains || []).filter(function (dom) {
      var bare = String(dom).replace(/^\./, '');
      return host === bare || host.slice(-bare.length - 1) === '.' + bare;
    })[0];
    var path = (cookieOptions.talk && cookieOptions.talk.cookiePath) || '/';
    d.cookie = COOKIE + '=' + id + '; path=' + path + '; max-age=63072000; SameSite=Lax' +
      (domain ? '; domain=' + domain : '') + (location.protocol === 'https:' ? '; Secure' : '');
    var store = storage();
    if (store) {
      try {
        if (readCookie() === id) store.removeItem(COOKIE);
        else store.setItem(COOKIE, id);
      } catch (e) { /* nowhere to keep it: one visit only */ }
    }
  }

  function visitorId() {
    var store = storage();
    var id = readCookie() || (store && store.getItem(COOKIE));
    if (!/^[0-9a-f]{32}$/.test(id || '')) id = randomId();
    storeVisitorId(id);
    return id;
  }

  // A page view, for the agents' view of the visitor's browsing.
  function track() {
    if (!config) { pendingViews++; return; }
    w.fetch(config.apiUrl + '/v1/talk/track', {
      method: 'POST',
      keepalive: true,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        capture_key: config.captureKey,
        visitor_id: config.visitorId,
        url: location.href,
        title: d.title || undefined,
        referrer: d.referrer || undefined
      })
    }).catch(function () { /* analytics must never break the page */ });
  }

  function start() {
    if (started) return;
    started = true;
    var base = assetBase || config.apiUrl + '/';
    var hooks = {
      unread: function (count) { each(unreadListeners, count); },
      ready: function () { ready = true; each(readyListeners.splice(0)); }
    };
    import(base + 'widget/talk-widget.js')
      .then(function (mod) {
        return mod.default({ module_or_path: base + 'widget/talk-widget_bg.wasm' }).then(function () {
          mod.start(JSON.stringify(config), hooks);
          widget = mod;
          early.splice(0).forEach(function (call) { widget[call[0]](call[1]); });
        });
      })
      .catch(function (err) {
        started = false;
        console.error('[talk] the messenger could not start:', err);
      });
  }

  ap3c.init = function (captureKey, apiUrl, options) {
    options = options || {};
    cookieOptions = options;
    var talkOptions = options.talk || {};
    config = {
      captureKey: String(captureKey),
      apiUrl: String(apiUrl || '').replace(/\/+$/, '') || location.origin,
      visitorId: visitorId(),
      token: typeof talkOptions.token === 'string' && talkOptions.token ? talkOptions.token : null,
      language: typeof talkOptions.language === 'string' ? talkOptions.language : null
    };
    for (; pendingViews > 0; pendingViews--) track();
    if (!options.disableTalk) start();
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
      console.error('[talk] an ap3c.cmd function failed:', err);
    }
  }
  for (var i = 0; i < queued.length; i++) run(queued[i]);
})(window, document);
