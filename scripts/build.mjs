#!/usr/bin/env node
// Bundles the server into dist/veche.js with esbuild (well under a second): `npm start` runs the
// bundle, so start-up does not pay for TypeScript. Type checking is `npm run typecheck`.
// npm packages stay external and load from node_modules. The built-in web client (Hydrogen) goes
// to dist/web/ (scripts/build-web.mjs), built alongside.
import { build } from 'esbuild';
import { buildWebClient } from './build-web.mjs';

await Promise.all([
  build({
    entryPoints: ['src/main.ts'],
    outfile: 'dist/veche.js',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning',
  }),
  buildWebClient(),
]);
