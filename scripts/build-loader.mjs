// Builds the loader into dist/, after Trunk has built the widget there with content-hashed
// names. Minifies the widget's JS glue (wasm-bindgen writes it readable) in place, and app.js (on every page of every site) and its lazy parts embed.js and
// frame.js, writes into each the hashed name of what it fetches, and names the lazy parts by
// their own content too (dist/embed-<hash>.js, dist/frame-<hash>.js), so every file fetched
// after app.js can be cached for a year. app.js itself keeps its name (dist/loader/app.js,
// served as /app.js and revalidated): it names embed.js, which names the widget's files.
// dist/loader/manifest.json maps each plain name to the served one (the server's frame page
// names frame.js from it).
// Usage: node scripts/build-loader.mjs ROOT
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

async function minify(root, source, isModule) {
  const terser = createRequire(join(root, '.tools/package.json'))('terser');
  const { code } = await terser.minify(source, {
    module: isModule,
    compress: { passes: 2 },
    mangle: true,
    format: { comments: false },
  });
  return code;
}

const minifyLoader = (root, file, isModule) =>
  minify(root, readFileSync(join(root, 'loader', file), 'utf8'), isModule);

/** `embed.js` → `embed-<first 16 hex of the content's SHA-256>.js`. */
const hashedName = (file, code) =>
  file.replace(/\.js$/, `-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.js`);

/** The only built file whose name matches. */
function builtFile(dist, pattern) {
  const found = readdirSync(dist).filter((name) => pattern.test(name));
  if (found.length !== 1) throw new Error(`expected one ${pattern} in ${dist}, found ${found}`);
  return found[0];
}

/** Puts the served names into minified code, where each plain name must occur once. */
function withNames(file, code, names) {
  for (const [plain, served] of Object.entries(names)) {
    const count = code.split(plain).length - 1;
    if (count !== 1) throw new Error(`${file}: expected "${plain}" once, found it ${count} times`);
    code = code.replace(plain, served);
  }
  return code;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = process.argv[2];
  const dist = join(root, 'dist');
  const manifest = {
    'talk-widget.js': builtFile(dist, /^talk-widget-[0-9a-f]+\.js$/),
    'talk-widget_bg.wasm': builtFile(dist, /^talk-widget-[0-9a-f]+_bg\.wasm$/),
  };
  // Minified in place: its name's hash stays that of wasm-bindgen's output, which fixes this one.
  const glue = join(dist, manifest['talk-widget.js']);
  writeFileSync(glue, await minify(root, readFileSync(glue, 'utf8'), true));
  const widget = {
    'talk-widget.js': manifest['talk-widget.js'],
    'talk-widget_bg.wasm': manifest['talk-widget_bg.wasm'],
  };
  // The call module first: embed.js and frame.js name it by its hash.
  const callModule = await minifyLoader(root, 'call.js', true);
  manifest['call.js'] = hashedName('call.js', callModule);
  writeFileSync(join(dist, manifest['call.js']), callModule);
  widget['call.js'] = manifest['call.js'];
  // The capture module likewise: fetched only when a session answer offers a capture.
  const captureModule = await minifyLoader(root, 'capture.js', true);
  manifest['capture.js'] = hashedName('capture.js', captureModule);
  writeFileSync(join(dist, manifest['capture.js']), captureModule);
  widget['capture.js'] = manifest['capture.js'];
  for (const file of ['embed.js', 'frame.js']) {
    const code = withNames(file, await minifyLoader(root, file, true), widget);
    manifest[file] = hashedName(file, code);
    writeFileSync(join(dist, manifest[file]), code);
  }
  // Trunk's copy for `trunk serve` (index.html): the build serves the hashed one instead.
  rmSync(join(dist, 'embed.js'), { force: true });
  // The preview page is for `trunk serve` only: the server has no use for it.
  rmSync(join(dist, 'index.html'), { force: true });
  const app = withNames('app.js', await minifyLoader(root, 'app.js', false), {
    'widget/embed.js': `widget/${manifest['embed.js']}`,
  });
  mkdirSync(join(dist, 'loader'), { recursive: true });
  writeFileSync(join(dist, 'loader', 'app.js'), app);
  writeFileSync(join(dist, 'loader', 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}
