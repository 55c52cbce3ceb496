// Removes from the widget's release build (dist/, after Trunk, before build-loader.mjs minifies
// the glue) the three JS classes that wasm-streams exports: IntoUnderlyingSource,
// IntoUnderlyingSink and IntoUnderlyingByteSource. wasm-streams comes with server_fn's
// "browser" feature, which leptos always turns on; the widget calls no server function, so
// nothing ever constructs them. But an export is never dead code to the linker or to wasm-opt,
// so they kept their Rust side (stream adapters, futures-util's Abortable, the imports those
// call) in the WASM and their classes in the glue: 2.4 KB of gzip in all (docs/benchmarks.md).
//
//   node scripts/drop-unused-exports.mjs ROOT DIST
//
// Then, in the WASM: the exports go, binaryen's remove-unused-module-elements drops what only
// they reached (functions, imports, data), and wasm-opt -Oz runs again over what is left. In
// the glue: the classes, their FinalizationRegistry objects, and every import entry the WASM
// no longer imports. Anything in an unexpected shape (another wasm-bindgen's output) fails the
// build rather than ship a glue that doesn't match its WASM.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { widgetBuildFiles } from './widget-build-files.mjs';

const { fail, binaryen, wasmOpt, wasmFile, glueFile } = await widgetBuildFiles('drop-unused-exports');
const unused = /^(__wbg_)?intounderlying(bytesource|sink|source)_/;

// The WASM.
const module = binaryen.readBinary(readFileSync(wasmFile));
const exportNames = [];
for (let i = 0; i < module.getNumExports(); i++) {
  exportNames.push(binaryen.getExportInfo(module.getExportByIndex(i)).name);
}
const dropped = exportNames.filter((name) => unused.test(name));
if (dropped.length === 0) fail('none of wasm-streams\' exports found: is the list still right?');
for (const name of dropped) module.removeExport(name);
// Only removes: no pass that could emit instructions of a feature Trunk's wasm-opt didn't use.
module.runPasses(['remove-unused-module-elements']);
if (!module.validate()) fail('the WASM does not validate after removing the exports');
const imported = new Set();
for (let i = 0; i < module.getNumFunctions(); i++) {
  const info = binaryen.getFunctionInfo(module.getFunctionByIndex(i));
  if (info.module) imported.add(info.base);
}
for (let i = 0; i < module.getNumGlobals(); i++) {
  const info = binaryen.getGlobalInfo(module.getGlobalByIndex(i));
  if (info.module) imported.add(info.base);
}
writeFileSync(wasmFile, module.emitBinary());
module.dispose();
// The same optimisation Trunk ran (index.html: data-wasm-opt="z"), over the smaller module.
execFileSync(wasmOpt, ['-Oz', wasmFile, '-o', wasmFile], {
  stdio: 'inherit',
});

// The glue.
let glue = readFileSync(glueFile, 'utf8');
const removeAll = (pattern, expected, what) => {
  const count = [...glue.matchAll(pattern)].length;
  if (count !== expected) fail(`expected ${expected} ${what} in the glue, found ${count}`);
  glue = glue.replace(pattern, '');
};
removeAll(
  /^export class (IntoUnderlying\w+) \{\n[\s\S]*?^\}\n(?:if \(Symbol\.dispose\) \1\.prototype\[Symbol\.dispose\] = \1\.prototype\.free;\n)?/gm,
  3,
  'wasm-streams classes',
);
removeAll(/^const IntoUnderlying\w+Finalization = [\s\S]*?\);\n/gm, 3, 'finalization registries');
// The import object's entries: `        name: function(...) {` up to the next entry or its end.
const imports = /^( {4}const import0 = \{\n {8}__proto__: null,\n)([\s\S]*?)^( {4}\};\n)/m;
const match = imports.exec(glue);
if (!match) fail('no import object (`const import0 = {`) in the glue');
const entries = match[2].split(/^(?= {8}[\w$]+: )/m);
const kept = entries.filter((entry) => {
  const name = /^ {8}([\w$]+): /.exec(entry)?.[1];
  if (!name) fail(`unexpected import entry: ${entry.slice(0, 80)}`);
  return imported.has(name);
});
glue = glue.replace(imports, (_, head, _body, tail) => head + kept.join('') + tail);
if (/intounderlying/i.test(glue)) fail('wasm-streams is still named in the glue');
writeFileSync(glueFile, glue);
console.log(
  `drop-unused-exports: ${dropped.length} exports and ${entries.length - kept.length} of ` +
    `${entries.length} imports removed`,
);
