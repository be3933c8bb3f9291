/** Raw-HTTP helpers for the simplified sliding sync (MSC4186) tests. */
import type { TestServer, TestUser } from '../../harness.js';

export const SLIDING_SYNC_PATH = '/_matrix/client/unstable/org.matrix.simplified_msc3575/sync';

export interface SlidingSyncClient {
  /** One request; `pos`/`timeout` go in the query string as matrix-js-sdk and ruma send them. */
  sync(user: TestUser, body: unknown, opts?: { pos?: string; timeout?: number }): Promise<{ status: number; body: any; headers: Headers }>;
  send(user: TestUser, roomId: string, body: string, type?: string, content?: Record<string, unknown>): Promise<string>;
  state(user: TestUser, roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<string>;
  createRoom(user: TestUser, body: Record<string, unknown>): Promise<string>;
  api(user: TestUser, method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }>;
}

let txn = 0;

export function slidingSyncClient(t: TestServer): SlidingSyncClient {
  const api = (user: TestUser, method: string, path: string, body?: unknown) => t.request(method, `/_matrix/client/v3${path}`, { token: user.accessToken, body });
  const room = (roomId: string) => `/rooms/${encodeURIComponent(roomId)}`;
  return {
    api,
    async sync(user, body, opts = {}) {
      const q = new URLSearchParams();
      if (opts.pos !== undefined) q.set('pos', opts.pos);
      if (opts.timeout !== undefined) q.set('timeout', String(opts.timeout));
      const qs = q.toString();
      return t.request('POST', `${SLIDING_SYNC_PATH}${qs ? `?${qs}` : ''}`, { token: user.accessToken, body });
    },
    async send(user, roomId, body, type = 'm.room.message', content) {
      const res = await api(user, 'PUT', `${room(roomId)}/send/${type}/ss${++txn}`, content ?? { msgtype: 'm.text', body });
      if (res.status !== 200) throw new Error(`send: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.event_id;
    },
    async state(user, roomId, type, stateKey, content) {
      const res = await api(user, 'PUT', `${room(roomId)}/state/${type}/${encodeURIComponent(stateKey)}`, content);
      if (res.status !== 200) throw new Error(`state: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.event_id;
    },
    async createRoom(user, body) {
      const res = await api(user, 'POST', '/createRoom', body);
      if (res.status !== 200) throw new Error(`createRoom: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.room_id;
    },
  };
}

/** Runs `action` once the long-poll `pending` has surely started waiting (its first computation done). */
export async function whilePolling<T>(pending: Promise<T>, action: () => Promise<unknown>, delayMs = 200): Promise<T> {
  await new Promise((r) => setTimeout(r, delayMs));
  await action();
  return pending;
}
