// Start-up benchmark: the widget on a host page in headless Chromium, N runs, median and p90 of
//   loader executed → launcher visible (drawn by the loader), click → messenger interactive
//   (cold and warm cache; the click comes at once, so it pays for the WASM download),
//   loader executed → WASM widget running with no interaction (fetched when the page is idle),
//   main-thread blocking time added to the host page (long tasks, against the same page
//   without the snippet),
// each twice: on loopback with no throttling, and under a phone profile (Lighthouse's mobile
// figures applied over CDP: 150 ms latency, 1.6 Mbps down, 750 kbps up, CPU slowed 4×). Under
// the phone profile it also counts the bytes the Talk server sends (CDP, headers included; and
// Resource Timing's body sizes) for an untouched page view before and after idle and for the
// same visitor's second page view, and prints them against the budgets (it never fails on them).
// The widget's code is not instrumented: an init script watches its (open) shadow root.
// Usage: node startup.mjs --api http://127.0.0.1:PORT --capture-key KEY --tools DIR [--runs 10]
import http from 'node:http';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    api: { type: 'string' },
    'capture-key': { type: 'string' },
    runs: { type: 'string', default: '10' },
    tools: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
const runs = Number(args.runs);
if (!args.api || !args['capture-key'] || !args.tools || !(Number.isInteger(runs) && runs >= 1)) {
  console.error('usage: startup.mjs --api URL --capture-key KEY --tools DIR [--runs N >= 1]');
  process.exit(2);
}
const { chromium } = createRequire(join(resolve(args.tools), 'package.json'))('playwright-core');
/** Nothing in a visit may wait longer than this for one thing (a page, a frame, a CDP answer). */
const STEP_TIMEOUT_MS = 60_000;
/** A whole visit, however many steps it has. */
const VISIT_TIMEOUT_MS = 150_000;
/** The Talk server's traffic is over when nothing was asked of it or answered for this long. */
const QUIET_MS = 1_000;
/** The Talk server's origin: every byte counted comes from it. */
const talkOrigin = new URL(args.api).origin;

/** Rejects when `promise` takes longer than `ms`: no step can hang the benchmark. */
const bounded = (promise, what, ms = STEP_TIMEOUT_MS) => {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Lighthouse's mobile profile ("slow 4G" on a mid-range phone), applied per page over CDP:
// Chromium's request-level throttling adds the latency to every request and shares the
// throughput among them; Emulation slows the page's main thread.
const PROFILES = [
  { name: 'loopback', network: null, cpu: 1 },
  {
    name: 'phone',
    network: { offline: false, latency: 150, downloadThroughput: 200_000, uploadThroughput: 93_750 },
    cpu: 4,
  },
];

// Budgets (DESIGN.md, issue #12). Reported next to the figures, never enforced here.
const TARGETS = {
  coldClickMs: 1000,
  warmClickMs: 150,
  appJsWireBytes: 1500,
  untouchedBeforeIdleBytes: 2500,
  // Issue 12: the second view "fetches no widget file, or gets only 304s for the loader".
  secondViewWidgetDownloads: 0,
};

// The host page: some content, and (unless baseline) the seed's snippet. The first queued
// command runs when the loader has executed, which is where the clock starts.
const hostPage = (withWidget) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><main><h1>A host page</h1>${'<p>Some text of the shop.</p>'.repeat(50)}</main>
${withWidget ? `<script>
window.ap3c = window.ap3c || {};
var ap3c = window.ap3c;
ap3c.cmd = ap3c.cmd || [];
ap3c.cmd.push(function() { performance.mark('talk:loader'); });
ap3c.cmd.push(function() {
  ap3c.init(${JSON.stringify(args['capture-key'])}, ${JSON.stringify(args.api + '/')}, {talk: {}});
  ap3c.track({v: 0});
});
var s, t; s = document.createElement('script'); s.type = 'text/javascript'; s.src = ${JSON.stringify(args.api + '/app.js')};
t = document.getElementsByTagName('script')[0]; t.parentNode.insertBefore(s, t);
</script>` : ''}
</body></html>`;

// Runs before any page script: records long tasks and, inside the widget's shadow root, the
// frame in which a launcher first shows (the loader's, before any WASM), the one in which the
// WASM widget's own launcher replaces it, and the one in which, after a click, the panel first
// offers its action (the homepage's button, or a text field).
const probe = () => {
  const talk = (window.__talk = { longTasks: [] });
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) talk.longTasks.push([entry.startTime, entry.duration]);
  }).observe({ type: 'longtask', buffered: true });
  addEventListener('click', (event) => { talk.click ??= event.timeStamp; }, true);
  const attachShadow = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    const root = attachShadow.call(this, init);
    if (this.localName !== 'ap3c-talk') return root;
    const inFrame = (key) => requestAnimationFrame(() => { talk[key] ??= performance.now(); });
    const check = () => {
      if (!talk.launcherSeen && root.querySelector('button')) {
        talk.launcherSeen = true;
        inFrame('launcher');
      }
      if (!talk.widgetSeen && root.querySelector('[data-testid=talk-launcher]')) {
        talk.widgetSeen = true;
        inFrame('widget');
      }
      // The panel's first action: the homepage's "Send us a message", or a form or composer.
      const field = root.querySelector(
        '[data-testid=talk-panel] :is(input, textarea, [data-testid=talk-new-conversation]):not([disabled])');
      if (talk.click !== undefined && !talk.interactiveSeen && field) {
        talk.interactiveSeen = true;
        inFrame('interactive');
      }
    };
    new MutationObserver(check).observe(root, { subtree: true, childList: true, attributes: true });
    return root;
  };
};

const server = http.createServer((request, response) => {
  const page = { '/with-widget': true, '/baseline': false }[request.url];
  if (page === undefined) {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  response.end(hostPage(page));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

/** Blocking time: the part of each long task beyond 50 ms (as in Total Blocking Time). */
const blocking = (longTasks) => longTasks.reduce((sum, [, duration]) => sum + Math.max(0, duration - 50), 0);

const pathOf = (url) => new URL(url).pathname;
/** Widget files: the loader and everything beneath /widget/ (embed, glue, WASM, frame), and any
 *  stylesheet or script the server makes (launcher.css). The rest (JSON, sockets) is API. Classed
 *  by URL pattern only: file names may carry content hashes. */
const isWidgetFile = (url) => {
  const path = pathOf(url);
  return path === '/app.js' || path.startsWith('/widget/') || /\.(css|m?js|wasm)$/.test(path);
};
const headerOf = (headers, name) =>
  Object.entries(headers ?? {}).find(([key]) => key.toLowerCase() === name)?.[1];
/** The bytes of a WebSocket handshake's response head as they travel. */
const handshakeBytes = (response) => Buffer.byteLength(response.headersText ??
  `HTTP/1.1 ${response.status} ${response.statusText}\r\n${Object.entries(response.headers ?? {})
    .flatMap(([key, value]) => String(value).split('\n').map((v) => `${key}: ${v}\r\n`)).join('')}\r\n`);
/** A server frame: its payload and its (unmasked) header. */
const frameBytes = ({ opcode, payloadData = '' }) => {
  const length = opcode === 1 ? Buffer.byteLength(payloadData) : Buffer.from(payloadData, 'base64').length;
  return length + (length < 126 ? 2 : length < 65536 ? 4 : 10);
};

/**
 * Records, from before the navigation, every request to the Talk server's origin as CDP sees it.
 * A request's bytes are Network.loadingFinished's encodedDataLength: everything received for it,
 * response headers included (0 when served from the cache; a 304 costs its headers). Sockets:
 * the handshake's response head and the frames received.
 */
async function recordNetwork(page) {
  const cdp = await bounded(page.context().newCDPSession(page), 'CDP session');
  const requests = new Map();
  const extraHeaders = new Map();
  /** Each response's head as received from the network: its bytes (status line and headers)
   *  and its status (a revalidation's 304, where responseReceived shows the cached 200). */
  const heads = new Map();
  const networkStatus = new Map();
  let order = 0;
  let lastActivity = Date.now();
  const talk = (url) => url.startsWith(`${talkOrigin}/`);
  const on = (event, handler) => cdp.on(`Network.${event}`, (e) => {
    const request = requests.get(e.requestId);
    if (request) {
      lastActivity = Date.now();
      handler(request, e);
    }
  });
  cdp.on('Network.requestWillBeSent', (e) => {
    if (!talk(e.request.url)) return;
    lastActivity = Date.now();
    const known = requests.get(e.requestId);
    if (known && e.redirectResponse) { // a redirect hop: its bytes count, the request goes on
      known.redirected += e.redirectResponse.encodedDataLength ?? 0;
      known.url = e.request.url;
      return;
    }
    requests.set(e.requestId, {
      order: order++, url: e.request.url, method: e.request.method, type: e.type, redirected: 0,
      received: 0, done: false, longLived: false,
    });
  });
  cdp.on('Network.requestWillBeSentExtraInfo', (e) => extraHeaders.set(e.requestId, e.headers));
  cdp.on('Network.responseReceivedExtraInfo', (e) => {
    if (e.headersText !== undefined) heads.set(e.requestId, Buffer.byteLength(e.headersText));
    networkStatus.set(e.requestId, e.statusCode);
  });
  on('requestServedFromCache', (request) => { request.cache = 'memory'; });
  on('responseReceived', (request, e) => {
    const { response } = e;
    request.type = e.type; // a preflight says so here, not when it is sent
    request.status = response.status;
    request.encoding = headerOf(response.headers, 'content-encoding');
    request.cacheControl = headerOf(response.headers, 'cache-control');
    if (response.fromDiskCache) request.cache = 'disk';
    request.received = response.encodedDataLength ?? 0;
    request.longLived = response.mimeType === 'text/event-stream';
  });
  on('dataReceived', (request, e) => { request.received += e.encodedDataLength; });
  on('loadingFinished', (request, e) => {
    request.wire = e.encodedDataLength;
    request.done = true;
  });
  on('loadingFailed', (request, e) => {
    request.failed = e.errorText;
    request.done = true;
  });
  cdp.on('Network.webSocketCreated', (e) => {
    if (!talk(e.url)) return;
    lastActivity = Date.now();
    requests.set(e.requestId, {
      order: order++, url: e.url, method: 'GET', type: 'WebSocket', redirected: 0, received: 0,
      done: true, longLived: true, socket: true,
    });
  });
  on('webSocketHandshakeResponseReceived', (request, e) => {
    request.status = e.response.status;
    request.head = handshakeBytes(e.response);
    request.received += request.head;
  });
  // Frames are not activity: a socket may talk for as long as it lives.
  cdp.on('Network.webSocketFrameReceived', (e) => {
    const request = requests.get(e.requestId);
    if (request) request.received += frameBytes(e.response);
  });

  await bounded(cdp.send('Network.enable'), 'Network.enable');
  return {
    cdp,
    async emulate(profile) {
      if (profile.network) {
        await bounded(cdp.send('Network.emulateNetworkConditions', profile.network), 'network emulation');
      }
      if (profile.cpu !== 1) {
        await bounded(cdp.send('Emulation.setCPUThrottlingRate', { rate: profile.cpu }), 'CPU throttling');
      }
    },
    /** Waits until no request to the Talk server is open (streams and sockets aside) and none
     *  started or ended for QUIET_MS. */
    async quiet() {
      const deadline = Date.now() + STEP_TIMEOUT_MS;
      for (;;) {
        const open = [...requests.values()].filter((r) => !r.done && !r.longLived);
        if (open.length === 0 && Date.now() - lastActivity >= QUIET_MS) return;
        if (Date.now() > deadline) {
          throw new Error(`Talk requests still open after ${STEP_TIMEOUT_MS} ms: ${open.map((r) => r.url).join(', ')}`);
        }
        await sleep(100);
      }
    },
    /** The requests in the order they were made, each with its bytes and its phase: `before`
     *  idle is everything asked before the first file beneath /widget/ (the loader's own work),
     *  `after` the rest. `head`: the response head's bytes (in `wire`). `body`: Resource Timing's
     *  encodedBodySize, matched by URL in order; null when Resource Timing hides it (a
     *  cross-origin answer without Timing-Allow-Origin). */
    requests(timings) {
      const list = [...requests.entries()].sort(([, a], [, b]) => a.order - b.order);
      const first = list.find(([, r]) => pathOf(r.url).startsWith('/widget/'))?.[1].order ?? Infinity;
      const bodies = new Map();
      for (const { name, encodedBodySize, hidden } of timings) {
        bodies.set(name, [...(bodies.get(name) ?? []), hidden ? null : encodedBodySize]);
      }
      return list.map(([id, r]) => {
        const head = r.socket ? (r.head ?? 0) : (heads.get(id) ?? 0);
        let wire = r.wire ?? r.received;
        // CDP says 0 for a CORS preflight, though its head crossed the wire.
        if (wire === 0 && !r.cache) wire = head;
        return {
          phase: r.order < first ? 'before' : 'after',
          kind: isWidgetFile(r.url) ? 'widget' : 'api',
          path: pathOf(r.url),
          method: r.method,
          type: r.type,
          // A keepalive fetch is reported cancelled once handed to the browser, answered or not.
          status: networkStatus.get(id) ?? r.status ?? (r.failed ? `failed: ${r.failed}` : undefined),
          cache: r.cache,
          encoding: r.encoding,
          cacheControl: r.cacheControl,
          acceptEncoding: headerOf(extraHeaders.get(id), 'accept-encoding'),
          wire: r.redirected + wire,
          head: wire === 0 ? 0 : head,
          // Preflights and sockets have no Resource Timing entry.
          body: r.type === 'Preflight' || r.method === 'OPTIONS' || r.socket ? undefined : bodies.get(r.url)?.shift(),
        };
      });
    },
  };
}

/** Resource Timing of the Talk server's answers, read in the page. */
const resourceTimings = (page) => bounded(page.evaluate((origin) => performance
  .getEntriesByType('resource')
  .filter((e) => e.name.startsWith(`${origin}/`))
  // Without Timing-Allow-Origin a cross-origin entry shows no response time and no sizes.
  .map(({ name, encodedBodySize, responseStart }) => ({ name, encodedBodySize, hidden: responseStart === 0 })),
  talkOrigin),
'Resource Timing');

/** Sums of wire and body bytes by phase and kind. */
function byteSums(requests) {
  const sums = {};
  for (const phase of ['before', 'after', 'all']) {
    for (const kind of ['widget', 'api', 'all']) {
      const matching = requests.filter((r) => (phase === 'all' || r.phase === phase) && (kind === 'all' || r.kind === kind));
      const bodies = matching.filter((r) => r.body !== undefined).map((r) => r.body);
      sums[`${phase}.${kind}`] = {
        wire: matching.reduce((sum, r) => sum + r.wire, 0),
        head: matching.reduce((sum, r) => sum + r.head, 0),
        // Unknown when Resource Timing hid any of them.
        body: bodies.includes(null) ? null : bodies.reduce((sum, body) => sum + body, 0),
      };
    }
  }
  return sums;
}

/**
 * One page view. `mode`: `click` opens the messenger as soon as a launcher shows; `idle` leaves
 * the page alone until the WASM widget runs and the Talk server's traffic is over, and counts
 * its bytes; `baseline` is the page without the snippet.
 */
async function visit(context, profile, mode) {
  const page = await bounded(context.newPage(), 'new page');
  try {
    return await bounded(visitPage(page, profile, mode), `${profile.name} ${mode} visit`, VISIT_TIMEOUT_MS);
  } finally {
    await bounded(page.close(), 'closing the page').catch(() => {});
  }
}

async function visitPage(page, profile, mode) {
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const network = await recordNetwork(page);
  await network.emulate(profile);
  await page.addInitScript(probe);
  await page.goto(`${origin}/${mode === 'baseline' ? 'baseline' : 'with-widget'}`, { waitUntil: 'load' });
  const read = (fn) => bounded(page.evaluate(fn), 'reading the probe');
  const waitFor = (what, fn) => page.waitForFunction(fn).catch((err) => {
    throw new Error(`${profile.name} ${mode} visit: no ${what}: ${err.message}`);
  });
  let result = {};
  if (mode === 'idle') {
    await waitFor('WASM widget running', () => window.__talk.widget !== undefined);
    await network.quiet();
    result = await read(() => ({
      loaderToWidget: window.__talk.widget - performance.getEntriesByName('talk:loader')[0].startTime,
    }));
    result.requests = network.requests(await resourceTimings(page));
    result.bytes = byteSums(result.requests);
  } else if (mode === 'click') {
    await waitFor('launcher', () => window.__talk.launcher !== undefined);
    await page.locator('ap3c-talk button').first().click();
    await waitFor('interactive messenger after the click', () => window.__talk.interactive !== undefined);
    result = await read(() => ({
      loaderToLauncher: window.__talk.launcher - performance.getEntriesByName('talk:loader')[0].startTime,
      clickToInteractive: window.__talk.interactive - window.__talk.click,
    }));
  }
  await page.waitForTimeout(500); // long tasks still running get reported
  result.blocking = blocking(await read(() => window.__talk.longTasks));
  await bounded(network.cdp.detach(), 'CDP detach').catch(() => {});
  return result;
}

/** One run of one profile: fresh browser contexts have empty HTTP caches. */
async function measure(browser, profile) {
  const sample = {};
  // A returning visitor who clicks at once: cold, then warm (same context, cache warm).
  const clicker = await bounded(browser.newContext(), 'new context');
  sample.cold = await visit(clicker, profile, 'click');
  sample.warm = await visit(clicker, profile, 'click');
  await bounded(clicker.close(), 'closing a context');
  // A visitor who never touches the widget: the page goes idle, the WASM comes; then their
  // second page view.
  const idler = await bounded(browser.newContext(), 'new context');
  sample.idle = await visit(idler, profile, 'idle');
  sample.second = await visit(idler, profile, 'idle');
  await bounded(idler.close(), 'closing a context');
  const baseline = await bounded(browser.newContext(), 'new context');
  sample.baseline = await visit(baseline, profile, 'baseline');
  await bounded(baseline.close(), 'closing a context');
  return sample;
}

// Nearest rank.
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
};
const median = (values) => quantile(values, 0.5);
const p90 = (values) => quantile(values, 0.9);
const group = (n) => Math.round(n).toLocaleString('en-US');

function report(samples, chromiumVersion) {
  const of = (profile, visitKind, pick) => samples[profile].map((s) => pick(s[visitKind]));
  const msRows = [
    ['loader executed → launcher visible, cold', 'cold', (s) => s.loaderToLauncher],
    ['loader executed → launcher visible, warm', 'warm', (s) => s.loaderToLauncher],
    ['click → messenger interactive, cold', 'cold', (s) => s.clickToInteractive],
    ['click → messenger interactive, warm', 'warm', (s) => s.clickToInteractive],
    ['loader executed → WASM widget running, idle', 'idle', (s) => s.loaderToWidget],
    ['host page blocking time with widget, cold', 'cold', (s) => s.blocking],
    ['host page blocking time with widget, warm', 'warm', (s) => s.blocking],
    ['host page blocking time, widget loaded idle', 'idle', (s) => s.blocking],
    ['host page blocking time without widget', 'baseline', (s) => s.blocking],
  ];
  const width = 50;
  const cell = (value, digits = 1) => (value === undefined ? '-' : value.toFixed(digits)).padStart(10);
  console.log(`${''.padEnd(width)}${'loopback'.padStart(20)}${'phone'.padStart(20)}`);
  console.log(`${'start-up, ms'.padEnd(width)}${['median', 'p90', 'median', 'p90'].map((h) => h.padStart(10)).join('')}`);
  for (const [label, kind, pick] of msRows) {
    const [loop, phone] = PROFILES.map((p) => of(p.name, kind, pick));
    console.log(`${label.padEnd(width)}${cell(median(loop))}${cell(p90(loop))}${cell(median(phone))}${cell(p90(phone))}`);
  }
  for (const kind of ['cold', 'warm', 'idle']) {
    const added = PROFILES.map((p) =>
      median(of(p.name, kind, (s) => s.blocking)) - median(of(p.name, 'baseline', (s) => s.blocking)));
    console.log(`${`added blocking time (median), ${kind}`.padEnd(width)}${cell(added[0])}${''.padStart(10)}${cell(added[1])}`);
  }

  // Bytes: the phone profile's (the same files and answers as on loopback; the throttling only
  // changes when they come).
  const bytes = (visitKind, key, field) => of('phone', visitKind, (s) => s.bytes[key][field]);
  const byteRows = [
    ['untouched view, before idle: widget files', 'idle', 'before.widget'],
    ['untouched view, before idle: API calls', 'idle', 'before.api'],
    ['untouched view, before idle: total', 'idle', 'before.all'],
    ['untouched view, after idle: widget files', 'idle', 'after.widget'],
    ['untouched view, after idle: API calls', 'idle', 'after.api'],
    ['untouched view, after idle: total', 'idle', 'after.all'],
    ['second view (same visitor), to idle: widget files', 'second', 'all.widget'],
    ['second view (same visitor), to idle: API calls', 'second', 'all.api'],
    ['second view (same visitor), to idle: total', 'second', 'all.all'],
  ];
  const appJs = (field) => of('phone', 'idle', (s) => {
    const request = s.requests.find((r) => r.path === '/app.js');
    return request ? request[field] : 0;
  });
  const pair = (values) => (values.includes(null)
    ? 'hidden'
    : `${group(median(values))} / ${group(p90(values))}`).padStart(20);
  console.log();
  console.log(`${'bytes from the Talk server, phone profile'.padEnd(width)}${'wire, headers incl.'.padStart(20)}${'of which headers'.padStart(20)}${'body (Res. Timing)'.padStart(20)}`);
  console.log(`${''.padEnd(width)}${'median / p90'.padStart(20).repeat(3)}`);
  for (const [label, kind, key] of byteRows) {
    console.log(`${label.padEnd(width)}${['wire', 'head', 'body'].map((field) => pair(bytes(kind, key, field))).join('')}`);
  }
  console.log(`${'/app.js, untouched view (cold)'.padEnd(width)}${['wire', 'head', 'body'].map((field) => pair(appJs(field))).join('')}`);

  const verdict = (value, target) => (value <= target ? 'ok' : 'OVER');
  const targetRows = [
    ['click → messenger interactive, cold', median(of('phone', 'cold', (s) => s.clickToInteractive)), TARGETS.coldClickMs, 'ms'],
    ['click → messenger interactive, warm', median(of('phone', 'warm', (s) => s.clickToInteractive)), TARGETS.warmClickMs, 'ms'],
    ['/app.js on the wire', median(appJs('wire')), TARGETS.appJsWireBytes, 'B'],
    ['untouched view before idle, from the Talk server', median(bytes('idle', 'before.all', 'wire')), TARGETS.untouchedBeforeIdleBytes, 'B'],
    // A 304 (the loader's revalidated app.js or launcher.css) brings its headers, no file.
    ['widget files downloaded on the second view', median(of('phone', 'second', (s) => s.requests
      .filter((r) => r.kind === 'widget' && r.status !== 304)
      .reduce((sum, r) => sum + r.wire, 0))), TARGETS.secondViewWidgetDownloads, 'B'],
  ];
  console.log();
  console.log(`${'targets, phone profile (medians)'.padEnd(width)}${'measured'.padStart(12)}${'target'.padStart(12)}`);
  for (const [label, value, target, unit] of targetRows) {
    const shown = unit === 'ms' ? `${value.toFixed(0)} ms` : `${group(value)} B`;
    console.log(`${label.padEnd(width)}${shown.padStart(12)}${`≤ ${group(target)} ${unit}`.padStart(12)}  ${verdict(value, target)}`);
  }

  // What the phone profile's first run fetched, request by request.
  const first = samples.phone[0];
  console.log();
  console.log('requests to the Talk server, phone profile, run 1 (wire and headers: CDP; body: Resource Timing)');
  console.log(`${'view'.padEnd(8)}${'phase'.padEnd(8)}${'kind'.padEnd(8)}${'request'.padEnd(46)}${'status'.padEnd(13)}${'encoding'.padEnd(10)}${'wire B'.padStart(9)}${'headers B'.padStart(11)}${'body B'.padStart(9)}`);
  for (const [view, sample] of [['first', first.idle], ['second', first.second]]) {
    for (const r of sample.requests) {
      const request = `${r.method} ${r.path}`;
      const name = request.length > 44 ? `${request.slice(0, 43)}…` : request;
      const status = `${r.status ?? '-'}${r.cache ? ` (${r.cache})` : ''}`;
      const body = r.body === undefined ? '-' : r.body === null ? 'hidden' : group(r.body);
      console.log(`${view.padEnd(8)}${r.phase.padEnd(8)}${r.kind.padEnd(8)}${name.padEnd(46)}${status.padEnd(13)}${(r.encoding ?? '-').padEnd(10)}${group(r.wire).padStart(9)}${group(r.head).padStart(11)}${body.padStart(9)}`);
    }
  }
  const acceptEncoding = first.idle.requests.find((r) => r.path === '/app.js')?.acceptEncoding;
  console.log();
  console.log(`${runs} runs, Chromium ${chromiumVersion} headless, host page and Talk server on loopback;`);
  console.log('phone = CDP Network.emulateNetworkConditions (150 ms latency per request, 200,000 B/s down, 93,750 B/s up)');
  console.log('  + Emulation.setCPUThrottlingRate 4; loopback = no throttling;');
  console.log(`Accept-Encoding sent for /app.js: ${acceptEncoding ?? '(not reported)'};`);
  console.log('blocking time = sum over long tasks of (duration - 50 ms); the click comes as soon as the launcher shows;');
  console.log('before idle = requests made before the first file beneath /widget/; budgets are reported, not enforced;');
  const hidden = first.idle.requests.some((r) => r.body === null);
  console.log(hidden
    ? 'body "hidden": the Talk server sends no Timing-Allow-Origin, so Resource Timing gives the host page no sizes.'
    : 'body = Resource Timing encodedBodySize (a revalidated or cached file counts its cached body).');
}

let browser;
let exitCode = 0;
try {
  browser = await chromium.launch({
    executablePath: args.chromium,
    headless: true,
    timeout: STEP_TIMEOUT_MS,
    // TOOLCHAIN.md gotcha 9: without the background-networking flags Chromium floods the
    // closed network.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic',
      '--no-first-run', '--disable-background-networking', '--disable-component-update',
      '--disable-sync'],
  });
  const samples = Object.fromEntries(PROFILES.map((p) => [p.name, []]));
  for (let run = 1; run <= runs; run++) {
    for (const profile of PROFILES) {
      samples[profile.name].push(await measure(browser, profile));
      process.stderr.write(`run ${run}/${runs} ${profile.name} done\n`);
    }
  }
  report(samples, browser.version());
} catch (err) {
  console.error(`startup benchmark failed: ${err.stack ?? err}`);
  exitCode = 1;
} finally {
  if (browser) await bounded(browser.close(), 'closing the browser').catch((err) => console.error(err.message));
  server.close();
}
process.exit(exitCode);
