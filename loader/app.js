/* Talk loader: served as the snippet's app.js. Makes the seed's ap3c snippet work verbatim
 * (cmd queue, init, track) and starts the WASM widget. Kept tiny and dependency-free. */
(function (w, d) {
  'use strict';
  var ap3c = (w.ap3c = w.ap3c || {});
  if (ap3c._talkLoaded) return; // the snippet was pasted twice
  ap3c._talkLoaded = true;

  // Widget files live beside this script; computed now, currentScript is gone later.
  var me = d.currentScript;
  var assetBase = me && me.src ? new URL('.', me.src).href : '';
  var talk = (ap3c.talk = ap3c.talk || {});
  var widget = null;
  var early = []; // page calls made before the WASM is ready: replayed, never lost
  var started = false;

  function callWidget(name, arg) {
    if (widget) widget[name](arg);
    else early.push([name, arg]);
  }

  talk.setVerifiedSession = function (opts) {
    if (!opts || typeof opts.token !== 'string' || !opts.token) {
      throw new TypeError('ap3c.talk.setVerifiedSession expects {token: "<token>"}');
    }
    callWidget('set_verified_session', opts.token);
  };

  var COOKIE = 'ap3c_talk_vid';

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

  // The visitor id is first-party on the host page, scoped by cookieDomains and talk.cookiePath
  // so two workspaces on one site don't mix; localStorage when cookies are refused.
  function visitorId(options) {
    var id = readCookie();
    var store = null;
    try {
      store = w.localStorage;
      id = id || store.getItem(COOKIE);
    } catch (e) { /* storage blocked */ }
    if (!/^[0-9a-f]{32}$/.test(id || '')) id = randomId();
    var host = location.hostname;
    var domain = (options.cookieDomains || []).filter(function (dom) {
      var bare = String(dom).replace(/^\./, '');
      return host === bare || host.slice(-bare.length - 1) === '.' + bare;
    })[0];
    var path = (options.talk && options.talk.cookiePath) || '/';
    d.cookie = COOKIE + '=' + id + '; path=' + path + '; max-age=63072000; SameSite=Lax' +
      (domain ? '; domain=' + domain : '') + (location.protocol === 'https:' ? '; Secure' : '');
    if (readCookie() !== id && store) {
      try { store.setItem(COOKIE, id); } catch (e) { /* nowhere to keep it: one visit only */ }
    }
    return id;
  }

  function start(config) {
    if (started) return;
    started = true;
    var base = assetBase || config.apiUrl + '/';
    import(base + 'widget/talk-widget.js')
      .then(function (mod) {
        return mod.default({ module_or_path: base + 'widget/talk-widget_bg.wasm' }).then(function () {
          mod.start(JSON.stringify(config));
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
    var talkOptions = options.talk || {};
    if (options.disableTalk) return;
    start({
      captureKey: String(captureKey),
      apiUrl: String(apiUrl || '').replace(/\/+$/, '') || location.origin,
      visitorId: visitorId(options),
      token: typeof talkOptions.token === 'string' && talkOptions.token ? talkOptions.token : null
    });
  };

  // Page-view tracking (agents' browsing history) comes with the people API; until then
  // track() accepts and drops events so the snippet runs unchanged.
  ap3c.track = ap3c.track || function () {};

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
