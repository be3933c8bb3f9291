#!/usr/bin/env node
// The `veche` command: runs the bundle that `npm install` / `npm start` build (scripts/build.mjs).
import '../dist/veche.js';
