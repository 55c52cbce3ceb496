// What the widget's post-build steps (drop-unused-exports.mjs, minify-wasm-names.mjs) share:
// their arguments, how they fail, the WASM and glue Trunk wrote into DIST, and binaryen.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

// ROOT and DIST from the command line, the one WASM and one glue in DIST, and `fail`, which
// stops the build with the step's name; anything unexpected fails rather than ship a glue that
// doesn't match its WASM.
export async function widgetBuildFiles(step) {
  const [root, dist] = process.argv.slice(2);
  if (!root || !dist) {
    console.error(`usage: ${step}.mjs ROOT DIST`);
    process.exit(2);
  }
  const fail = (message) => {
    console.error(`${step}: ${message}`);
    process.exit(1);
  };
  const only = (pattern) => {
    const found = readdirSync(dist).filter((name) => pattern.test(name));
    if (found.length !== 1) fail(`expected one file matching ${pattern} in ${dist}, found ${found.length}`);
    return join(dist, found[0]);
  };
  const binaryen = (await import(join(root, '.tools/node_modules/binaryen/index.js'))).default;
  return {
    root,
    fail,
    binaryen,
    wasmOpt: join(root, '.tools/node_modules/.bin/wasm-opt'),
    wasmFile: only(/^talk-widget-[0-9a-f]+_bg\.wasm$/),
    glueFile: only(/^talk-widget-[0-9a-f]+\.js$/),
  };
}
