// Writes a brotli (quality 11) and a gzip copy beside every .js, .wasm and .css file under
// the given folders (`x.js.br`, `x.js.gz`), which the server sends by Accept-Encoding instead
// of compressing each request. The gzip copies are Zopfli's (15 iterations, what its CLI
// does): the deflate format every gzip reader inflates, searched harder than zlib's level 9,
// which is about 5 % fewer bytes for a visitor whose browser takes gzip but not brotli
// (docs/benchmarks.md). Zopfli is installed by scripts/install-tools.sh.
// Deterministic: neither header has a timestamp.
// A copy no smaller than its original is not written; the server then sends the original.
// Usage: node scripts/compress-assets.mjs DIR...
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, constants } from 'node:zlib';

/** Zopfli's gzip of `bytes` (its CLI compresses a file `f` to `f.gz`). */
export function gzip(bytes) {
  const dir = mkdtempSync(join(tmpdir(), 'talk-gzip-'));
  try {
    const file = join(dir, 'asset');
    writeFileSync(file, bytes);
    execFileSync('zopfli', [file], { stdio: ['ignore', 'ignore', 'inherit'] });
    return readFileSync(`${file}.gz`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

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
