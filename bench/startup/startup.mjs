// Start-up benchmark: the widget on a host page in headless Chromium, N runs, median and p90 of
//   loader executed → launcher visible (drawn by the loader), click → messenger interactive
//   (cold and warm cache; the click comes at once, so it pays for the WASM download),
//   loader executed → WASM widget running with no interaction (fetched when the page is idle),
//   main-thread blocking time added to the host page (long tasks, against the same page
//   without the snippet).
// The widget's code is not instrumented: an init script watches its (open) shadow root.
// Usage: node startup.mjs --api http://127.0.0.1:PORT --capture-key KEY [--runs 10]
import http from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
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
if (!args.api || !args['capture-key'] || !args.tools || !(runs >= 1)) {
  console.error('usage: startup.mjs --api URL --capture-key KEY --tools DIR [--runs N >= 1]');
  process.exit(2);
}
const { chromium } = createRequire(join(args.tools, 'package.json'))('playwright-core');
/** Nothing in a run may take longer than this. */
const STEP_TIMEOUT_MS = 30_000;

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

const browser = await chromium.launch({
  executablePath: args.chromium,
  headless: true,
  // TOOLCHAIN.md gotcha 9: without the background-networking flags Chromium floods the
  // closed network.
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic',
    '--no-first-run', '--disable-background-networking', '--disable-component-update',
    '--disable-sync'],
});

/** Blocking time: the part of each long task beyond 50 ms (as in Total Blocking Time). */
const blocking = (longTasks) => longTasks.reduce((sum, [, duration]) => sum + Math.max(0, duration - 50), 0);

/** `click`: open the messenger as soon as a launcher shows; else wait for the idle load. */
async function visit(context, withWidget, click = true) {
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  await page.addInitScript(probe);
  await page.goto(`${origin}/${withWidget ? 'with-widget' : 'baseline'}`, { waitUntil: 'load' });
  let result = {};
  if (withWidget && !click) {
    await page.waitForFunction(() => window.__talk.widget !== undefined);
    result = await page.evaluate(() => ({
      loaderToWidget: window.__talk.widget - performance.getEntriesByName('talk:loader')[0].startTime,
    }));
  } else if (withWidget) {
    await page.waitForFunction(() => window.__talk.launcher !== undefined);
    await page.locator('ap3c-talk button').first().click();
    await page.waitForFunction(() => window.__talk.interactive !== undefined);
    result = await page.evaluate(() => ({
      loaderToLauncher: window.__talk.launcher - performance.getEntriesByName('talk:loader')[0].startTime,
      clickToInteractive: window.__talk.interactive - window.__talk.click,
    }));
  }
  await page.waitForTimeout(500); // long tasks still running get reported
  result.blocking = blocking(await page.evaluate(() => window.__talk.longTasks));
  await page.close();
  return result;
}

const samples = { cold: [], warm: [], idle: [], baseline: [] };
for (let run = 1; run <= runs; run++) {
  // A fresh context has an empty HTTP cache: the first visit is cold, the second warm
  // (widget files revalidated, compiled WASM possibly cached), as a returning visitor.
  const context = await browser.newContext();
  samples.cold.push(await visit(context, true));
  samples.warm.push(await visit(context, true));
  await context.close();
  const idle = await browser.newContext();
  samples.idle.push(await visit(idle, true, false));
  await idle.close();
  const baseline = await browser.newContext();
  samples.baseline.push(await visit(baseline, false));
  await baseline.close();
  process.stderr.write(`run ${run}/${runs} done\n`);
}
const chromiumVersion = browser.version();
await browser.close();
server.close();

// Nearest rank.
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
};
const rows = [
  ['loader executed → launcher visible, cold', samples.cold.map((s) => s.loaderToLauncher)],
  ['loader executed → launcher visible, warm', samples.warm.map((s) => s.loaderToLauncher)],
  ['click → messenger interactive, cold', samples.cold.map((s) => s.clickToInteractive)],
  ['click → messenger interactive, warm', samples.warm.map((s) => s.clickToInteractive)],
  ['loader executed → WASM widget running, idle', samples.idle.map((s) => s.loaderToWidget)],
  ['host page blocking time with widget, cold', samples.cold.map((s) => s.blocking)],
  ['host page blocking time with widget, warm', samples.warm.map((s) => s.blocking)],
  ['host page blocking time, widget loaded idle', samples.idle.map((s) => s.blocking)],
  ['host page blocking time without widget', samples.baseline.map((s) => s.blocking)],
];
const baselineMedian = quantile(samples.baseline.map((s) => s.blocking), 0.5);
const width = Math.max(...rows.map(([label]) => label.length)) + 2;
console.log(`${'start-up, ms'.padEnd(width)}${'median'.padStart(10)}${'p90'.padStart(10)}`);
for (const [label, values] of rows) {
  console.log(`${label.padEnd(width)}${quantile(values, 0.5).toFixed(1).padStart(10)}${quantile(values, 0.9).toFixed(1).padStart(10)}`);
}
for (const kind of ['cold', 'warm', 'idle']) {
  const added = quantile(samples[kind].map((s) => s.blocking), 0.5) - baselineMedian;
  console.log(`${`added blocking time (median), ${kind}`.padEnd(width)}${added.toFixed(1).padStart(10)}`);
}
console.log(`${runs} runs, Chromium ${chromiumVersion} headless, page and server on loopback, no CPU or network throttling;`);
console.log('blocking time = sum over long tasks of (duration - 50 ms); the click comes as soon as the launcher shows.');
