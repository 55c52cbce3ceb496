// What a visitor downloads, in bytes: raw, minified (the loader), gzip (Zopfli) and brotli q11, of
// the built files (found by pattern: their names carry a content hash).
// Deterministic (no timestamps in the compressed output), so CI may run it. Exits 1 when a
// budget (DESIGN.md "Performance budgets") is exceeded, unless --report-only.
// Usage: node bench/size/size-report.mjs ROOT [--report-only]
import { readFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { brotli, gzip } from '../../scripts/compress-assets.mjs';

const root = process.argv[2];
const reportOnly = process.argv.includes('--report-only');

// Decimal kilobytes: the stricter reading of "1.5 KB" and "80 KB".
const BUDGET = { loader: 1500, widget: 80000 };

/** Bytes as served: the `.gz` and `.br` copies the build wrote beside `path`
 * (scripts/compress-assets.mjs), or, for a file served by no one alone (the CSS compiled into
 * the WASM), compressed here the same way. `source`, if given, is the readable file the served
 * one was minified from. */
function measure(label, path, source) {
  const shipped = readFileSync(path);
  const copy = (suffix, compress) =>
    existsSync(path + suffix) ? statSync(path + suffix).size : compress(shipped).length;
  return {
    label,
    raw: source === undefined ? shipped.length : readFileSync(source).length,
    min: source === undefined ? null : shipped.length,
    gzip: copy('.gz', gzip),
    brotli: copy('.br', brotli),
  };
}

/** The one built file in `dir` (relative to ROOT) whose name matches: names carry a hash. */
function builtFile(dir, pattern) {
  const found = existsSync(join(root, dir))
    ? readdirSync(join(root, dir)).filter((name) => pattern.test(name))
    : [];
  if (found.length !== 1) {
    console.error(`size-report: no single ${pattern} in ${dir}/; run ./scripts/build-widget.sh first`);
    process.exit(1);
  }
  return join(root, dir, found[0]);
}

// As served: minified with the hashed names written in by scripts/build-loader.mjs.
const loader = measure('loader/app.js (served minified)', builtFile('dist/loader', /^app\.js$/),
  join(root, 'loader/app.js'));
// Fetched only with the messenger (embed.js on the host page; frame.js in frame mode).
const embed = measure('loader/embed.js (minified)', builtFile('dist', /^embed-[0-9a-f]+\.js$/),
  join(root, 'loader/embed.js'));
const frame = measure('loader/frame.js (minified)', builtFile('dist', /^frame-[0-9a-f]+\.js$/),
  join(root, 'loader/frame.js'));
// Fetched only when a call rings or the visitor presses the call button.
const callModule = measure('loader/call.js (minified)', builtFile('dist', /^call-[0-9a-f]+\.js$/),
  join(root, 'loader/call.js'));
// Fetched only when the page view's session answer offers a capture widget's message.
const captureModule = measure('loader/capture.js (minified)',
  builtFile('dist', /^capture-[0-9a-f]+\.js$/), join(root, 'loader/capture.js'));
const wasm = measure('widget wasm', builtFile('dist', /^talk-widget-[0-9a-f]+_bg\.wasm$/));
const glue = measure('widget JS glue', builtFile('dist', /^talk-widget-[0-9a-f]+\.js$/));
const css = measure('widget CSS (inside the wasm)', join(root, 'style/widget.css'));
const widget = {
  label: 'widget = wasm + glue (+ CSS once)',
  raw: wasm.raw + glue.raw,
  min: null,
  gzip: wasm.gzip + glue.gzip,
  brotli: wasm.brotli + glue.brotli,
};

const inboxDir = join(root, 'crates/talk-inbox/dist');
const inboxFiles = existsSync(inboxDir)
  ? readdirSync(inboxDir)
      .filter((name) => /\.(wasm|js|css)$/.test(name))
      .sort()
      .map((name) => measure(`inbox ${name}`, join(inboxDir, name)))
  : [];

const status = (value, budget) =>
  value <= budget ? `ok (≤ ${budget})` : `OVER BUDGET by ${value - budget} B (≤ ${budget})`;
const n = (value) => (value === null ? '-' : value.toLocaleString('en-US'));
const rows = [
  [loader, status(loader.gzip, BUDGET.loader)],
  [embed, 'lazy: with the messenger'],
  [frame, 'lazy: frame mode only'],
  [callModule, 'lazy: when a call starts'],
  [captureModule, 'lazy: when a capture is offered'],
  [wasm, ''],
  [glue, ''],
  [css, 'counted in the wasm'],
  [widget, status(widget.gzip, BUDGET.widget)],
  ...inboxFiles.map((file) => [file, '']),
];
const width = Math.max(...rows.map(([row]) => row.label.length));
const line = (cells) =>
  console.log(
    cells[0].padEnd(width) +
      cells.slice(1, 5).map((cell) => cell.padStart(10)).join('') +
      '  ' +
      cells[5],
  );
line(['artefact', 'raw B', 'min B', 'gzip B', 'brotli B', 'budget (gzip B)']);
for (const [row, note] of rows) {
  line([row.label, n(row.raw), n(row.min), n(row.gzip), n(row.brotli), note]);
}
if (inboxFiles.length === 0) {
  console.log(`inbox bundle: not built (${relative(root, inboxDir)}/ is missing)`);
} else {
  const total = (key) => inboxFiles.reduce((sum, file) => sum + file[key], 0).toLocaleString('en-US');
  console.log(
    `inbox bundle: ${total('gzip')} B gzip, ${total('brotli')} B brotli in ${inboxFiles.length} files`,
  );
}
console.log(
  'gzip = Zopfli, brotli = quality 11: the copies the build writes and the server sends;',
  'budgets are decimal KB. The loader files are measured as built (scripts/build-loader.mjs).',
);

const over = loader.gzip > BUDGET.loader || widget.gzip > BUDGET.widget;
if (over) {
  console.log(`OVER BUDGET: ${reportOnly ? 'reported only (--report-only)' : 'failing'}`);
  if (!reportOnly) process.exit(1);
} else {
  console.log('within budget');
}
