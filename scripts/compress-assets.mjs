// Writes a brotli (quality 11) and a gzip (level 9) copy beside every .js, .wasm and .css file
// under the given folders (`x.js.br`, `x.js.gz`), which the server sends by Accept-Encoding
// instead of compressing each request. Deterministic: Node's gzip header has no timestamp.
// A copy no smaller than its original is not written; the server then sends the original.
// Usage: node scripts/compress-assets.mjs DIR...
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

export const gzip = (bytes) => gzipSync(bytes, { level: 9 });
export const brotli = (bytes) =>
  brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  });

const ASSET = /\.(js|wasm|css)$/;

function compressTree(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      compressTree(path);
    } else if (ASSET.test(entry.name)) {
      const original = readFileSync(path);
      for (const [suffix, compress] of [['.br', brotli], ['.gz', gzip]]) {
        const copy = compress(original);
        if (copy.length < original.length) writeFileSync(path + suffix, copy);
      }
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const dir of process.argv.slice(2)) compressTree(dir);
}
