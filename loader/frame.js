// The messenger inside its frame (/widget/frame, on the Talk server's origin, under the
// server's strict CSP). The host page's embed.js posts the configuration and the page's calls;
// this posts back what the page hears. The host origin comes in the URL's fragment: messages go
// only there and are taken only from it, from the parent. Served at /widget/frame-<hash>.js.
// It starts the widget itself, as embed.js's `inline` does, rather than importing embed.js: the
// frame is another site than the page, so the browser's partitioned cache would fetch it again.

const CALLS = ['open', 'close', 'show', 'hide', 'shutdown', 'set_verified_session'];
const named = decodeURIComponent(location.hash.slice(1));
// Only a real origin: never "*" or anything else a framing page might put there.
const host = URL.canParse(named) && new URL(named).origin === named ? named : null;
const post = (message) => host && parent.postMessage(message, host);
let messenger = null;

/**
 * The call module (call.js; the same function as embed.js's, which this frame does not load), fetched the first time the messenger needs it: an incoming call or
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
 * The capture module (capture.js; embed.js's function, which this frame does not load),
 * fetched only when this page view's first session answer offers a capture widget's message.
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

/** Starts the messenger in this frame; resolves to `(name, arg) => void`. */
async function start(config) {
  // The build writes the hashed names in. Side by side, not one after another (embed.js).
  const wasm = fetch(new URL('talk-widget_bg.wasm', import.meta.url));
  wasm.catch(() => {});
  const settings = fetch(
    `${config.apiUrl}/v1/talk/widget/config?capture_key=${encodeURIComponent(config.captureKey)}`,
  )
    .then((answer) => (answer.ok ? answer.text() : null))
    .catch(() => null);
  const widget = await import('./talk-widget.js');
  await widget.default({ module_or_path: wasm });
  const calls = voice(new URL('call.js', import.meta.url).href, widget);
  const offers = capture(new URL('capture.js', import.meta.url).href, {
    open: (id) => widget.open(id),
    // The frame is launcher-sized until the messenger opens: the card needs the open size.
    grow: (on) => post({ t: 'open', v: on }),
  });
  widget.start(JSON.stringify(config), {
    settings,
    call: (kind, payload) => {
      if (kind === 'session') offers(JSON.parse(payload));
      calls(kind, payload);
    },
    ready: () => post({ t: 'ready' }),
    unread: (count) => post({ t: 'unread', n: count }),
    open: (open) => post({ t: 'open', v: open }),
  });
  return (name, arg) => CALLS.includes(name) && widget[name](arg);
}

addEventListener('message', (event) => {
  if (event.origin !== host || event.source !== parent) return;
  const message = event.data || {};
  if (message.t === 'init' && !messenger) messenger = start(message.config);
  if (message.t === 'call' && messenger) {
    messenger.then((call) => call(message.n, message.a));
  }
});
post({ t: 'hello' });
