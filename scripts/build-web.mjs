#!/usr/bin/env node
// Builds the built-in web client into dist/web/: Hydrogen (hydrogen-view-sdk) with its theme,
// fonts and icons bundled by esbuild, olm (js + wasm) and Hydrogen's olm worker and download
// sandbox copied beside it — every asset under assets/ named by a hash of its content, so the
// server can let browsers cache them for good. index.html and sw.js (the service worker must keep
// its URL) are the only unhashed files; config.json is not built at all: the server answers it from
// public_baseurl when asked.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = join(ROOT, 'web/client');
const require = createRequire(join(ROOT, 'package.json'));

function contentHash(data) {
  return createHash('sha256').update(data).digest('base64url').replace(/[-_]/g, '').slice(0, 10);
}

/** Copies a file to assets/NAME-HASH.EXT and returns its URL relative to the page. */
function copyHashed(source, assetsDir, name = basename(source, extname(source))) {
  const data = readFileSync(source);
  const file = `${name}-${contentHash(data)}${extname(source)}`;
  writeFileSync(join(assetsDir, file), data);
  return `assets/${file}`;
}

// Hydrogen's library imports olm.js for its side effects only; the page loads olm itself from
// assetPaths (a <script> for the wasm glue, then the wasm), so the bundle leaves it out.
const skipBundledOlm = {
  name: 'skip-bundled-olm',
  setup(b) {
    b.onResolve({ filter: /^@matrix-org\/olm\/olm\.js$/ }, () => ({ path: 'olm', namespace: 'veche-empty' }));
    b.onLoad({ filter: /.*/, namespace: 'veche-empty' }, () => ({ contents: '', loader: 'js' }));
  },
};

export async function buildWebClient({ outdir = join(ROOT, 'dist/web') } = {}) {
  const staging = `${outdir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    return await buildInto(staging, outdir);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

async function buildInto(staging, outdir) {
  const assets = join(staging, 'assets');
  mkdirSync(assets, { recursive: true });

  const olmDir = dirname(require.resolve('@matrix-org/olm/package.json'));
  const sdkDir = join(dirname(require.resolve('hydrogen-view-sdk')), '..');
  const assetPaths = {
    downloadSandbox: copyHashed(join(sdkDir, 'asset-build/assets/download-sandbox.html'), assets),
    // Hydrogen's olm worker: used only by browsers without WebAssembly, with the legacy olm build.
    worker: copyHashed(join(sdkDir, 'asset-build/assets/main.js'), assets, 'olm-worker'),
    serviceWorker: 'sw.js',
    olm: {
      wasm: copyHashed(join(olmDir, 'olm.wasm'), assets, 'olm'),
      legacyBundle: copyHashed(join(olmDir, 'olm_legacy.js'), assets, 'olm_legacy'),
      wasmBundle: copyHashed(join(olmDir, 'olm.js'), assets, 'olm'),
    },
  };
  const icon = copyHashed(join(SOURCE, 'icon.svg'), assets, 'icon');

  const result = await build({
    entryPoints: [join(SOURCE, 'main.ts')],
    outdir: assets,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    define: { VECHE_ASSET_PATHS: JSON.stringify(assetPaths) },
    loader: { '.woff': 'file', '.woff2': 'file', '.svg': 'file', '.png': 'file' },
    plugins: [skipBundledOlm],
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.entries(result.metafile.outputs);
  const entry = (ext) => {
    const found = outputs.find(([path, o]) => o.entryPoint && path.endsWith(ext)) ?? outputs.find(([path]) => path.endsWith(ext) && !path.endsWith('.map'));
    if (!found) throw new Error(`web client build: no ${ext} output`);
    return relative(staging, resolve(ROOT, found[0])).split('\\').join('/');
  };
  const html = readFileSync(join(SOURCE, 'index.html'), 'utf8')
    .replace('%JS%', entry('.js'))
    .replace('%CSS%', entry('.css'))
    .replace('%ICON%', icon);
  writeFileSync(join(staging, 'index.html'), html);

  // The service worker keeps its URL (browsers update it in place); its cache name carries the
  // build's hash, so a new build drops what an old one cached.
  const sw = readFileSync(join(sdkDir, 'lib-build/sw.js'), 'utf8');
  writeFileSync(join(staging, 'sw.js'), sw.replace(/hydrogen-assets-\$\{"[0-9]+"\}/, `hydrogen-assets-${contentHash(html)}`));

  // Swap the new build in whole: a running server never sees half a build.
  // (Another build finishing at the same moment can put its own back in between: retry.)
  const old = `${outdir}.old-${process.pid}`;
  for (let attempt = 0; ; attempt++) {
    try {
      if (existsSync(outdir)) renameSync(outdir, old);
      renameSync(staging, outdir);
      break;
    } catch (err) {
      if (attempt >= 5 || !['ENOTEMPTY', 'EEXIST'].includes(err.code)) throw err;
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  }
  return { outdir, index: html };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildWebClient();
}
