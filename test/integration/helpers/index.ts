/** Shared helpers for the integration tests: error assertions, UIA dicts, matrix-js-sdk errors. */
import { expect } from 'chai';
import { startTestServer, type TestServer } from '../../harness.js';

export interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

/** Asserts a Matrix error reply: the status, the errcode and a human-readable `error` string. */
export function expectMatrixError(res: Reply, status: number, errcode: string): void {
  expect(res.status, `status of ${JSON.stringify(res.body)}`).to.equal(status);
  expect(res.body, 'error body').to.be.an('object');
  expect(res.body.errcode).to.equal(errcode);
  expect(res.body.error).to.be.a('string');
}

/** Awaits a promise that must reject (a matrix-js-sdk call refused by the server) and returns the error. */
export async function rejectionOf(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  expect.fail('expected the call to be refused');
}

/** A UIA m.login.password dict for a user. */
export function passwordAuth(userId: string, password: string, session?: string): Record<string, unknown> {
  const auth: Record<string, unknown> = { type: 'm.login.password', identifier: { type: 'm.id.user', user: userId }, password };
  if (session) auth.session = session;
  return auth;
}

/** Starts one test server for the enclosing describe block and closes it afterwards. */
export function useServer(overrides: Record<string, unknown> = {}): { readonly t: TestServer } {
  const holder: { t: TestServer } = {} as { t: TestServer };
  before(async () => {
    holder.t = await startTestServer(overrides);
  });
  after(async () => {
    await holder.t?.close();
  });
  return holder;
}

/** Logs in by password over plain HTTP and returns the reply body. */
export async function login(t: TestServer, user: string, password: string, extra: Record<string, unknown> = {}): Promise<any> {
  const res = await t.request('POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, ...extra },
  });
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body;
}

/** Counts the rows of a table, to show that a refused request stored nothing. */
export async function countRows(t: TestServer, table: string): Promise<number> {
  const { rows } = await t.server.services.storage.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]!.n;
}

/** Polls until fn returns something truthy (asynchronous clients such as matrix-js-sdk's crypto). */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
