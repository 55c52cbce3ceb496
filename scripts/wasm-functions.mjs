#!/usr/bin/env node
// Where a WASM module's bytes go, by function: prints "bytes<TAB>name" for every function body
// (named from the module's name section) and section, largest first. twiggy 0.7 stops on the
// widget's module ("should not parse the same key into multiple items"); this reads the
// binary format directly, and needs nothing but Node.
//
//   node scripts/wasm-functions.mjs module.wasm [count]
//
// For names, build with them kept: docs/benchmarks.md ("Where the widget's bytes go").
import { readFileSync } from 'node:fs';

const [path, count = '40'] = process.argv.slice(2);
if (!path) {
  console.error('usage: wasm-functions.mjs module.wasm [count]');
  process.exit(2);
}
const bytes = readFileSync(path);
let at = 8; // after the magic number and version
const leb = () => {
  let value = 0, shift = 0, byte;
  do {
    byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return value;
};
const skipLimits = () => { const flags = bytes[at++]; leb(); if (flags & 1) leb(); };
const text = (length) => { const s = bytes.subarray(at, at + length).toString(); at += length; return s; };

let importedFunctions = 0;
const bodies = [], names = new Map(), rows = [];
while (at < bytes.length) {
  const id = bytes[at++];
  const size = leb();
  const end = at + size;
  if (id === 2) { // imports: functions among them come first in the index space
    for (let n = leb(); n > 0; n--) {
      text(leb()); text(leb());
      const kind = bytes[at++];
      if (kind === 0) { leb(); importedFunctions++; }
      else if (kind === 1) { at++; skipLimits(); }
      else if (kind === 2) skipLimits();
      else if (kind === 3) at += 2;
      else if (kind === 4) { at++; leb(); }
    }
  } else if (id === 10) { // code
    for (let n = leb(); n > 0; n--) { const length = leb(); bodies.push(length); at += length; }
  } else if (id === 0) { // custom: the name section's function names
    const name = text(leb());
    if (name === 'name') {
      while (at < end) {
        const sub = bytes[at++], subSize = leb(), subEnd = at + subSize;
        if (sub === 1) for (let n = leb(); n > 0; n--) { const index = leb(); names.set(index, text(leb())); }
        at = subEnd;
      }
    } else rows.push([size, `custom section ${name}`]);
  } else rows.push([size, id === 11 ? 'data segments' : `section ${id}`]);
  at = end;
}
bodies.forEach((length, i) => rows.push([length, names.get(i + importedFunctions) ?? `function ${i + importedFunctions}`]));
rows.sort((a, b) => b[0] - a[0]);
const total = rows.reduce((sum, [size]) => sum + size, 0);
for (const [size, name] of rows.slice(0, Number(count))) console.log(`${size}\t${name}`);
console.log(`${total}\ttotal (${bodies.length} functions)`);
