#!/usr/bin/env node
// Builds the built-in web client into dist/web/: Hydrogen (hydrogen-view-sdk) with its theme,
// fonts and icons bundled by esbuild, olm (js + wasm) and Hydrogen's olm worker and download
// sandbox copied beside it — every asset under assets/ named by a hash of its content, so the
// server can let browsers cache them for good. index.html and sw.js (the service worker must keep
// its URL) are the only unhashed files; config.json is not built at all: the server answers it from
// public_baseurl when asked.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib';
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

/**
 * Fixes in hydrogen-view-sdk's library build, each applied to an exact piece of its code: the build
 * fails when the piece is not found (a new SDK version), so a fix never silently stops applying.
 */
const SDK_FIXES = [
  {
    // Session.createRoom became async in the SDK's TypeScript port, but CreateRoomViewModel reads
    // the returned room's local id at once to open it: the new room never opened (#/room/ with no
    // id). Upstream Hydrogen starts the creation detached and returns the room synchronously.
    why: 'open a room right after creating it',
    find: `  async createRoom(options) {
    let roomBeingCreated;
    await this._platform.logger.run("create room", async (log) => {`,
    replace: `  createRoom(options) {
    let roomBeingCreated;
    this._platform.logger.runDetached("create room", async (log) => {`,
  },
  {
    // Uploads go through XMLHttpRequest (for progress), whose reply Hydrogen parses only when the
    // Content-Type is exactly "application/json": "application/json; charset=utf-8" (Express's,
    // and legal) left the upload's content_uri null and every attachment failed to send.
    why: 'read JSON replies to uploads that name a charset',
    find: `} else if (xhr2.getResponseHeader("Content-Type") === "application/json") {`,
    replace: `} else if (/^application\\/json\\s*(;|$)/i.test(xhr2.getResponseHeader("Content-Type") || "")) {`,
  },
  {
    // A composer command (/invite, /join) was also sent to the room as a message without msgtype:
    // invisible in plain rooms, an undecryptable event for the invitee in encrypted ones.
    // After a command, send nothing (and keep the composer's text only when the command failed).
    why: 'send nothing after a composer command',
    find: `          const result = await this._processCommand(message);
          msgtype = result.msgtype;
          message = result.message;
        }`,
    replace: `          const result = await this._processCommand(message);
          msgtype = result.msgtype;
          message = result.message;
          if (!msgtype) {
            log.set("command", true);
            return message !== void 0;
          }
        }`,
  },
];

const patchSdk = {
  name: 'hydrogen-sdk-fixes',
  setup(b) {
    b.onLoad({ filter: /hydrogen-view-sdk[\\/]lib-build[\\/]hydrogen\.es\.js$/ }, (args) => {
      let code = readFileSync(args.path, 'utf8');
      for (const fix of SDK_FIXES) {
        if (!code.includes(fix.find)) throw new Error(`hydrogen-view-sdk changed: cannot apply the fix to ${fix.why}; review SDK_FIXES in scripts/build-web.mjs`);
        code = code.replace(fix.find, fix.replace);
      }
      return { contents: code, loader: 'js' };
    });
  },
};

/**
 * Writes NAME.br and NAME.gz beside each compressible asset (when they save at least a tenth): the
 * server sends them to browsers that accept them. Chromium offers brotli only over HTTPS, so gzip
 * is what a plain-HTTP install serves. Brotli at quality 5: ~95% of quality 11's saving in ~2% of
 * its time, so `npm start` stays quick.
 */
async function precompress(assetsDir) {
  const brotli = promisify(brotliCompress);
  const gz = promisify(gzip);
  const files = readdirSync(assetsDir).filter((f) => /\.(js|css|wasm|svg|html|json)$/.test(f));
  await Promise.all(
    files.map(async (file) => {
      const data = readFileSync(join(assetsDir, file));
      const [br, gzipped] = await Promise.all([
        brotli(data, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: data.length } }),
        gz(data, { level: 9 }),
      ]);
      if (br.length < data.length * 0.9) writeFileSync(join(assetsDir, `${file}.br`), br);
      if (gzipped.length < data.length * 0.9) writeFileSync(join(assetsDir, `${file}.gz`), gzipped);
    }),
  );
}

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
    plugins: [skipBundledOlm, patchSdk],
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
  await precompress(assets);

  // The service worker keeps its URL (browsers update it in place); its cache name carries the
  // build's hash, so a new build drops what an old one cached.
  const sw = readFileSync(join(sdkDir, 'lib-build/sw.js'), 'utf8');
  const cacheName = /hydrogen-assets-\$\{"[0-9]+"\}/;
  if (!cacheName.test(sw)) throw new Error("hydrogen-view-sdk changed: sw.js has no cache name to version; review scripts/build-web.mjs");
  writeFileSync(join(staging, 'sw.js'), sw.replace(cacheName, `hydrogen-assets-${contentHash(html)}`));

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
