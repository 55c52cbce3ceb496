// Fetched by app.js once the messenger is needed. Picks the mode, starts the WASM messenger in
// the page (inline) or in a frame on the Talk server's origin (frame), and takes over
// window.ap3c.talk from app.js's queue. Served at /widget/embed-<hash>.js: the build writes the
// widget's hashed names in (scripts/build-loader.mjs).

const CALLS = ['open', 'close', 'show', 'hide', 'shutdown', 'set_verified_session'];

/** The workspace's settings (JSON text, or null when that failed: the messenger asks again). */
function settings(apiUrl, captureKey) {
  return fetch(`${apiUrl}/v1/talk/widget/config?capture_key=${encodeURIComponent(captureKey)}`)
    .then((answer) => (answer.ok ? answer.text() : null))
    .catch(() => null);
}

/** Starts the messenger in this document; resolves to `(name, arg) => void`. */
async function inline(base, config, hooks) {
  // Side by side, not one after another: on a phone each request waits a round trip.
  const wasm = fetch(`${base}widget/talk-widget_bg.wasm`);
  wasm.catch(() => {}); // a failure surfaces where the glue awaits it
  hooks.settings = settings(config.apiUrl, config.captureKey);
  const widget = await import(`${base}widget/talk-widget.js`);
  await widget.default({ module_or_path: wasm });
  const calls = voice(`${base}widget/call.js`, widget);
  const offers = capture(`${base}widget/capture.js`, { open: (id) => widget.open(id) });
  hooks.call = (kind, payload) => {
    if (kind === 'session') offers(JSON.parse(payload));
    calls(kind, payload);
  };
  widget.start(JSON.stringify(config), hooks);
  return (name, arg) => CALLS.includes(name) && widget[name](arg);
}

/**
 * The call module (call.js), fetched the first time the messenger needs it: an incoming call or
 * the call button. Its events go out through the messenger's session (`send_call`); the
 * messenger hands it its session's answer (ICE servers), every call event and the button's
 * clicks through this hook. It draws its panel beside the messenger, in the same shadow root.
 */
function voice(url, widget) {
  let session = {};
  let module = null;
  const load = () =>
    (module ||= import(url).then(({ attach }) => {
      const root = document.querySelector('ap3c-talk')?.shadowRoot || document.body;
      return attach({
        side: 'visitor',
        root,
        lang: root.querySelector('[lang]')?.getAttribute('lang'),
        iceServers: session.ice_servers || [],
        iceTransportPolicy: session.ice_transport_policy,
        send: (event) => widget.send_call(JSON.stringify(event)),
        open: () => widget.open(),
      });
    }));
  return (kind, payload) => {
    if (kind === 'session') {
      session = JSON.parse(payload);
      module?.then((call) => call.setIceServers(session.ice_servers, session.ice_transport_policy));
    } else if (kind === 'start') {
      load().then((call) => call.start(payload));
    } else {
      const event = JSON.parse(payload);
      // Every refusal passes here; only a running call module cares (about its own codes).
      if (event.type === 'error') module?.then((call) => call.error(event.code, event.message));
      else load().then((call) => call.event(event));
    }
  };
}

/**
 * The capture module (capture.js), fetched only when this page view's first session answer
 * offers a capture widget's message; later answers (renewed tokens) go to it.
 */
function capture(url, opts) {
  let module = null;
  let first = true;
  return (answer) => {
    if (first && answer.capture) module = import(url).then(({ attach }) => attach({ ...opts, answer }));
    else module?.then((shown) => shown.session(answer));
    first = false;
  };
}

/** `ap3c.init`'s talk options, as the widget takes them. */
function widgetConfig({ captureKey, apiUrl, visitorId, talk }) {
  const text = (value) => (typeof value === 'string' && value ? value : null);
  return {
    captureKey,
    apiUrl,
    visitorId,
    token: text(talk.token),
    language: text(talk.language),
    pageUrl: location.href.split('#')[0], // the capture widgets' page rules
  };
}

/**
 * A page whose CSP refuses WebAssembly refuses this 8-byte module too. Instantiated, not just
 * compiled: WebKit compiles under any policy and refuses only the instance, so a compile probe
 * said yes there and the messenger then failed to start inline.
 */
async function wasmAllowed() {
  try {
    await WebAssembly.instantiate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    return true;
  } catch {
    return false;
  }
}

export async function start({ base, config, talk, calls, host, store, forget }) {
  const root = host.shadowRoot;
  const facade = root.querySelector('.f');
  const readyListeners = [];
  const unreadListeners = [];
  const early = []; // calls made before the messenger runs: replayed in order, never lost
  let call = null;
  let ready = false;
  let frame = null;
  let failed = false;

  const each = (listeners, arg) => {
    for (const listener of listeners) {
      try {
        listener(arg);
      } catch (error) {
        console.error('[talk] a page callback failed:', error);
      }
    }
  };
  const hooks = {
    ready() {
      ready = true;
      // In a frame the messenger draws its own launcher; ours goes once it is connected.
      if (frame) facade?.remove();
      each(readyListeners.splice(0));
    },
    unread(count) {
      // Inline, the messenger prefixes the tab title itself; a frame's title is its own.
      if (frame) {
        const bare = document.title.replace(/^\(\d+\) /, '');
        document.title = count ? `(${count}) ${bare}` : bare;
      }
      try {
        store.ap3c_talk_unread = count; // next page: load at once while this is above 0
      } catch {
        // no storage: the launcher waits for idle
      }
      each(unreadListeners, count);
    },
  };
  // A hidden messenger's frame must not cover the page's corner either.
  let hiddenByPage = false;
  const showFrame = (shown) => {
    hiddenByPage = !shown;
    if (frame) frame.hidden = hiddenByPage;
  };
  const send = (name, arg) => (call ? call(name, arg) : early.push([name, arg]));
  const api = {
    setVerifiedSession(options) {
      if (typeof options?.token !== 'string' || !options.token) {
        throw new TypeError('ap3c.talk.setVerifiedSession expects {token: "<token>"}');
      }
      send('set_verified_session', options.token);
    },
    open() {
      showFrame(true);
      send('open');
    },
    close: () => send('close'),
    show() {
      showFrame(true);
      send('show');
    },
    hide() {
      showFrame(false);
      send('hide');
    },
    // Forget the visitor, e.g. on logout: app.js stores a new anonymous id first.
    shutdown() {
      config.visitorId = forget();
      config.talk = { ...config.talk, token: null };
      send('shutdown', config.visitorId);
    },
    onReady: (callback) => (ready ? callback() : readyListeners.push(callback)),
    onUnreadCountChange: (callback) => unreadListeners.push(callback),
  };
  Object.assign(talk, api);
  for (const [name, arg] of calls.splice(0)) {
    try {
      api[name](arg);
    } catch (error) {
      console.error('[talk]', error);
    }
  }
  if (facade) facade.onclick = api.open;

  const running = (fn) => {
    call = fn;
    for (const [name, arg] of early.splice(0)) fn(name, arg);
  };
  // Once: the messenger can't run here, and saying so again (or retrying) helps nobody.
  const fail = (why) => {
    if (failed) return;
    failed = true;
    host.remove();
    console.error(`[talk] the messenger cannot run on this page: ${why}`);
  };

  // The messenger starts at 0 unread and reports any other count: a stale one must not make
  // every later page load it at once.
  try {
    delete store.ap3c_talk_unread;
  } catch {
    // no storage
  }
  const mode = config.talk.mode;
  if (mode === 'inline' || (mode !== 'frame' && (await wasmAllowed()))) {
    inline(base, widgetConfig(config), hooks).then(running, (error) => {
      // auto: a policy the probe missed refuses the messenger's module before it starts; the
      // frame runs under the Talk server's own policy instead.
      if (mode !== 'inline' && error instanceof WebAssembly.CompileError) inFrame();
      else fail(`${error} (inline mode needs 'wasm-unsafe-eval' in script-src)`);
    });
    return;
  }
  inFrame();

  function inFrame() {
    // Messages go only to the Talk origin and are taken only from it, from this frame.
    const origin = new URL(config.apiUrl).origin;
    frame = document.createElement('iframe');
    frame.title = 'Chat';
    // Calls: the microphone, and a screen the visitor chooses to share; nothing more.
    frame.allow = 'microphone; display-capture';
    frame.hidden = hiddenByPage;
    frame.src = `${config.apiUrl}/widget/frame?capture_key=${encodeURIComponent(config.captureKey)}#${encodeURIComponent(location.origin)}`;
    const post = (message) => frame.contentWindow?.postMessage(message, origin);
    document.addEventListener('securitypolicyviolation', (event) => {
      if (event.blockedURI.startsWith(origin) && /^(frame|child|default)-src/.test(event.effectiveDirective)) {
        fail(
          `its Content-Security-Policy refuses WebAssembly and frames from ${origin}: add ` +
            `'wasm-unsafe-eval' to script-src (inline mode) or ${origin} to frame-src (frame mode)`,
        );
      }
    });
    addEventListener('message', (event) => {
      if (event.origin !== origin || event.source !== frame.contentWindow) return;
      const message = event.data || {};
      if (message.t === 'hello') {
        post({ t: 'init', config: widgetConfig(config) });
        running((name, arg) => post({ t: 'call', n: name, a: arg }));
      }
      if (message.t === 'ready') hooks.ready();
      if (message.t === 'unread') hooks.unread(message.n);
      // The launcher-sized frame grows to hold the open messenger (the server's stylesheet).
      if (message.t === 'open') frame.className = message.v ? 'open' : '';
    });
    root.append(frame);
  }
}
