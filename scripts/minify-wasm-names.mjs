// Gives the widget's WASM imports and exports one- or two-letter names, in the WASM and in its
// glue (dist/, after Trunk, before build-loader.mjs minifies the glue).
//
// wasm-bindgen names every import after the JS it calls plus a 16-digit hash
// (`__wbg_createElement_72201b7c62dc196b`) and every closure export after its full Rust type
// (hundreds of characters): about 160 names that sit in the WASM's import and export sections
// and again in the glue, and that gzip can't shrink (the hashes are random). They only join
// the glue to its own WASM, so they can be as short as terser makes the glue's variables:
// 5.2 KB of gzip (docs/benchmarks.md).
//
//   node scripts/minify-wasm-names.mjs ROOT DIST
//
// binaryen's own pass renames them in the WASM (`--minify-imports-and-exports-and-modules`,
// which prints the old and new names); this script then renames the import object's entries,
// its module key and every `wasm.<export>` in the glue, and fails the build when the glue has
// another shape or names something the WASM no longer has.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [root, dist] = process.argv.slice(2);
if (!root || !dist) {
  console.error('usage: minify-wasm-names.mjs ROOT DIST');
  process.exit(2);
}
// Anything unexpected fails the build rather than ship a glue that doesn't match its WASM.
const fail = (message) => {
  console.error(`minify-wasm-names: ${message}`);
  process.exit(1);
};
const only = (pattern) => {
  const found = readdirSync(dist).filter((name) => pattern.test(name));
  if (found.length !== 1) fail(`expected one file matching ${pattern} in ${dist}, found ${found.length}`);
  return join(dist, found[0]);
};
const binaryen = (await import(join(root, '.tools/node_modules/binaryen/index.js'))).default;
const wasmOpt = join(root, '.tools/node_modules/.bin/wasm-opt');
const wasmFile = only(/^talk-widget-[0-9a-f]+_bg\.wasm$/);
const glueFile = only(/^talk-widget-[0-9a-f]+\.js$/);

// The WASM. The rename changes names only; the features are the ones Trunk's wasm-opt allowed.
// It is the build's last pass over the WASM, so -Oz runs once more on the renamed module (which
// lays it out for 0.3 KB less gzip), and the custom sections no browser reads go: the
// toolchain's `producers` and the `target_features` only tools read (0.2 KB).
// `--low-memory-unused` lets -Oz fold a pointer's added constant into the load's offset (0.7
// KB): the two differ only where `pointer + constant` wraps past 2^32 into the first KB, which
// no pointer of a Rust program does (the stack is the first MB and grows down from its top;
// the data starts at 1 MB). Not `--ignore-implicit-traps` or `--traps-never-happen`: those
// may move a division before its check, or drop a panic's trap.
const printed = execFileSync(
  wasmOpt,
  [
    wasmFile, '-o', wasmFile, '--minify-imports-and-exports-and-modules',
    '--low-memory-unused', '-Oz', '--strip-producers', '--strip-target-features',
    '--enable-bulk-memory', '--enable-reference-types', '--enable-multivalue',
    '--enable-nontrapping-float-to-int', '--enable-sign-ext',
  ],
  { encoding: 'utf8' },
);
const start = printed.indexOf('{');
if (start < 0) fail('wasm-opt printed no map of the names');
const renamed = JSON.parse(printed.slice(start));
const importNames = new Map(renamed.imports.map(([, old, now]) => [old, now]));
const exportNames = new Map(renamed.exports.map(([old, now]) => [old, now]));

// What the WASM now imports and exports, to check the glue against.
const module = binaryen.readBinary(readFileSync(wasmFile));
const modules = new Set(), imported = new Set(), exported = new Set();
for (let i = 0; i < module.getNumFunctions(); i++) {
  const info = binaryen.getFunctionInfo(module.getFunctionByIndex(i));
  if (info.module) { modules.add(info.module); imported.add(info.base); }
}
for (let i = 0; i < module.getNumGlobals(); i++) {
  const info = binaryen.getGlobalInfo(module.getGlobalByIndex(i));
  if (info.module) { modules.add(info.module); imported.add(info.base); }
}
for (let i = 0; i < module.getNumExports(); i++) {
  exported.add(binaryen.getExportInfo(module.getExportByIndex(i)).name);
}
module.dispose();
if (modules.size !== 1) fail(`expected the imports in one module, found ${[...modules].join(', ')}`);
const [moduleName] = modules;

// The glue: its import object's entries (`        name: function(...) {`), their module key,
// and the exports it calls (`wasm.name`).
let glue = readFileSync(glueFile, 'utf8');
const imports = /^( {4}const import0 = \{\n {8}__proto__: null,\n)([\s\S]*?)^( {4}\};\n)/m;
if (!imports.test(glue)) fail('no import object (`const import0 = {`) in the glue');
let entries = 0;
glue = glue.replace(imports, (_, head, body, tail) =>
  head +
  body.replace(/^( {8})([\w$]+): /gm, (_, indent, name) => {
    const now = importNames.get(name);
    if (now === undefined || !imported.has(now)) fail(`the glue imports ${name}, the WASM does not`);
    entries++;
    return `${indent}${now}: `;
  }) +
  tail,
);
if (entries !== imported.size) fail(`${entries} entries in the import object, ${imported.size} imports`);
const moduleKey = /^( {8})"\.\/talk-widget_bg\.js": import0,$/m;
if (!moduleKey.test(glue)) fail('no `"./talk-widget_bg.js": import0` in the glue');
glue = glue.replace(moduleKey, (_, indent) => `${indent}${JSON.stringify(moduleName)}: import0,`);
let calls = 0;
glue = glue.replace(/\bwasm\.([\w$]+)/g, (_, name) => {
  const now = exportNames.get(name);
  if (now === undefined || !exported.has(now)) fail(`the glue calls wasm.${name}, the WASM has no such export`);
  calls++;
  return `wasm.${now}`;
});
// The loaders (embed.js, frame.js) start the widget with the default export and a URL; the
// synchronous `initSync` export is never called, and as an export terser would keep it.
const exports = 'export { initSync, __wbg_init as default };';
if (!glue.includes(exports)) fail(`no \`${exports}\` in the glue`);
glue = glue.replace(exports, 'export { __wbg_init as default };');
writeFileSync(glueFile, glue);
console.log(
  `minify-wasm-names: ${entries} imports and ${exportNames.size} exports renamed ` +
    `(${calls} calls in the glue)`,
);
