// Minifies the loader (app.js, on every page of every site) and its lazy parts (embed.js,
// frame.js) into dist/loader/, which the server serves in place of the readable sources.
// The size report measures the same output, so the budget counts what visitors download.
// Usage: node scripts/minify-loader.mjs ROOT
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

export const LOADER_FILES = [
  // [file, is an ES module]
  ['app.js', false],
  ['embed.js', true],
  ['frame.js', true],
];

export async function minifyLoader(root, file, isModule) {
  const { minify } = createRequire(join(root, '.tools/package.json'))('terser');
  const source = readFileSync(join(root, 'loader', file), 'utf8');
  const { code } = await minify(source, {
    module: isModule,
    compress: { passes: 2 },
    mangle: true,
    format: { comments: false },
  });
  return code;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = process.argv[2];
  const out = join(root, 'dist', 'loader');
  mkdirSync(out, { recursive: true });
  for (const [file, isModule] of LOADER_FILES) {
    writeFileSync(join(out, file), await minifyLoader(root, file, isModule));
  }
}
