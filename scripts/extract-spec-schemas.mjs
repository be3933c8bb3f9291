#!/usr/bin/env node
// Extracts the request-body JSON schemas of the Matrix spec's OpenAPI files into one JSON file per
// API, keyed by operationId, with every $ref resolved. The server validates request bodies against
// these (ARCHITECTURE: "validate with ajv against the spec's schemas"), and the generated files are
// committed so that a running server never needs the spec folder.
//
// usage: node scripts/extract-spec-schemas.mjs [path/to/shared/spec]
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';

const specRoot = resolve(process.argv[2] ?? '../shared/spec');
const apis = {
  'client-server': 'data/api/client-server',
  'server-server': 'data/api/server-server',
  'application-service': 'data/api/application-service',
  'push-gateway': 'data/api/push-gateway',
};
const dropKeys = new Set(['description', 'example', 'examples', 'title']);

const fileCache = new Map();
function load(file) {
  if (!fileCache.has(file)) fileCache.set(file, parse(readFileSync(file, 'utf8')));
  return fileCache.get(file);
}

function pointer(doc, ptr) {
  if (!ptr) return doc;
  return ptr.split('/').filter(Boolean).reduce((node, part) => node[part.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

function resolveRefs(node, file, seen = []) {
  if (Array.isArray(node)) return node.map((n) => resolveRefs(n, file, seen));
  if (node === null || typeof node !== 'object') return node;
  if (typeof node.$ref === 'string') {
    const [relPath, ptr] = node.$ref.split('#');
    const target = relPath ? resolve(dirname(file), relPath) : file;
    const key = `${target}#${ptr ?? ''}`;
    if (seen.includes(key)) return {}; // recursive schema: accept anything below this point
    const resolved = resolveRefs(pointer(load(target), ptr), target, [...seen, key]);
    const { $ref, ...siblings } = node;
    return Object.keys(siblings).length ? { ...resolved, ...resolveRefs(siblings, file, seen) } : resolved;
  }
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith('x-') || (dropKeys.has(k) && typeof v !== 'object')) continue;
    if (k === 'examples' || k === 'example') continue;
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, resolveRefs(s, file, seen)])) : resolveRefs(v, file, seen);
  }
  return out;
}

for (const [name, dir] of Object.entries(apis)) {
  const out = {};
  const folder = join(specRoot, dir);
  for (const f of readdirSync(folder).filter((f) => f.endsWith('.yaml')).sort()) {
    const file = join(folder, f);
    const doc = load(file);
    for (const [path, ops] of Object.entries(doc.paths ?? {})) {
      for (const [method, op] of Object.entries(ops)) {
        const schema = op?.requestBody?.content?.['application/json']?.schema;
        if (!op?.operationId || !schema) continue;
        out[op.operationId] = { method: method.toUpperCase(), path, schema: resolveRefs(schema, file) };
      }
    }
  }
  writeFileSync(`config/spec-schemas/${name}.json`, JSON.stringify(out, null, 1) + '\n');
  console.log(`${name}: ${Object.keys(out).length} request schemas`);
}
