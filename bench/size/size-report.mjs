// What a visitor downloads, in bytes: raw, minified (the loader), gzip -9 and brotli q11.
// Deterministic (no timestamps in the compressed output), so CI may run it. Exits 1 when a
// budget (DESIGN.md "Performance budgets") is exceeded, unless --report-only.
// Usage: node bench/size/size-report.mjs ROOT [--report-only]
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';
import { createRequire } from 'node:module';

const root = process.argv[2];
const reportOnly = process.argv.includes('--report-only');
const { minifyLoader } = await import(join(root, 'scripts/minify-loader.mjs'));
try {
  createRequire(join(root, '.tools/package.json')).resolve('terser');
} catch {
  console.error('size-report: terser is missing; run ./scripts/install-tools.sh');
  process.exit(1);
}

// Decimal kilobytes: the stricter reading of "1.5 KB" and "80 KB".
const BUDGET = { loader: 1500, widget: 80000 };

const gzip = (bytes) => gzipSync(bytes, { level: 9 }).length;
const brotli = (bytes) =>
  brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  }).length;

function measure(label, path, minified) {
  const raw = readFileSync(path);
  const shipped = minified === undefined ? raw : Buffer.from(minified);
  return {
    label,
    raw: raw.length,
    min: minified === undefined ? null : shipped.length,
    gzip: gzip(shipped),
    brotli: brotli(shipped),
  };
}

function needFile(path) {
  if (!existsSync(join(root, path))) {
    console.error(`size-report: ${path} is missing; run ./scripts/build-widget.sh first`);
    process.exit(1);
  }
  return join(root, path);
}

// As served: minified by scripts/build-widget.sh (scripts/minify-loader.mjs), measured here
// from the same function so the report doesn't depend on a stale dist/.
const loader = measure('loader/app.js (served minified)', needFile('loader/app.js'),
  await minifyLoader(root, 'app.js', false));
// Fetched only with the messenger (embed.js on the host page; frame.js in frame mode).
const embed = measure('loader/embed.js (minified)', needFile('loader/embed.js'),
  await minifyLoader(root, 'embed.js', true));
const frame = measure('loader/frame.js (minified)', needFile('loader/frame.js'),
  await minifyLoader(root, 'frame.js', true));
const wasm = measure('widget wasm', needFile('dist/talk-widget_bg.wasm'));
const glue = measure('widget JS glue', needFile('dist/talk-widget.js'));
const css = measure('widget CSS (inside the wasm)', needFile('style/widget.css'));
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
  const total = inboxFiles.reduce((sum, file) => sum + file.gzip, 0);
  console.log(`inbox bundle: ${total.toLocaleString('en-US')} B gzip in ${inboxFiles.length} files`);
}
console.log(
  'gzip = level 9, brotli = quality 11; budgets are decimal KB. The loader files are served',
  'minified (scripts/minify-loader.mjs, run by scripts/build-widget.sh).',
);

const over = loader.gzip > BUDGET.loader || widget.gzip > BUDGET.widget;
if (over) {
  console.log(`OVER BUDGET: ${reportOnly ? 'reported only (--report-only)' : 'failing'}`);
  if (!reportOnly) process.exit(1);
} else {
  console.log('within budget');
}
