/**
 * Request-body validation against the spec's own JSON schemas (extracted from the OpenAPI files into
 * config/spec-schemas/ by scripts/extract-spec-schemas.mjs), so a wrong shape gets 400 M_BAD_JSON
 * naming the field, before any handler runs.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { loadJsonFile } from '../../config/schema.js';
import { MatrixError } from '../../errors.js';

type SchemaFile = Record<string, { method: string; path: string; schema: object }>;

const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });
const files = new Map<string, SchemaFile>();
const compiled = new Map<string, ValidateFunction>();

function schemaFor(api: string, operationId: string): ValidateFunction {
  const key = `${api}:${operationId}`;
  let fn = compiled.get(key);
  if (!fn) {
    let file = files.get(api);
    if (!file) files.set(api, (file = loadJsonFile<SchemaFile>(`config/spec-schemas/${api}.json`)));
    const entry = file[operationId];
    if (!entry) throw new Error(`no request schema for ${api} operation ${operationId}`);
    fn = ajv.compile(entry.schema);
    compiled.set(key, fn);
  }
  return fn;
}

/** Compiles a hand-written schema for bodies the spec does not describe (unstable and admin routes). */
export function compileSchema(schema: object): ValidateFunction {
  return ajv.compile(schema);
}

function describe(e: ErrorObject): string {
  const field = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return `Missing field '${field ? field + '.' : ''}${missing}'`;
  }
  if (e.keyword === 'type' && !field) return 'Request body must be a JSON object';
  return `'${field || 'body'}' ${e.message ?? 'is invalid'}`;
}

export function checkWith(fn: ValidateFunction, body: unknown): void {
  // A body of the wrong shape, a missing field included, is M_BAD_JSON naming the field.
  if (!fn(body)) throw new MatrixError(400, 'M_BAD_JSON', describe(fn.errors![0]!));
}

export function validateBody(api: 'client-server' | 'server-server' | 'application-service' | 'push-gateway', operationId: string, body: unknown): void {
  checkWith(schemaFor(api, operationId), body);
}
