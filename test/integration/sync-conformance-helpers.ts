/** Raw-HTTP helpers for the /sync conformance tests (sync-conformance*.test.ts). */
import { expect } from 'chai';
import type { TestServer, TestUser } from '../harness.js';

export const CS = '/_matrix/client/v3';
export const enc = encodeURIComponent;

let txn = 0;

export class SyncClient {
  constructor(
    readonly t: TestServer,
    readonly user: TestUser,
  ) {}

  get userId(): string {
    return this.user.userId;
  }

  async call(method: string, path: string, body?: unknown): Promise<any> {
    const res = await this.t.request(method, CS + path, { token: this.user.accessToken, body });
    expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).to.equal(200);
    return res.body;
  }

  /** GET /sync with query parameters; expects 200. */
  async sync(q: Record<string, string | number | boolean | object | undefined> = {}): Promise<any> {
    const res = await this.rawSync(q);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body;
  }

  rawSync(q: Record<string, string | number | boolean | object | undefined> = {}) {
    const parts = Object.entries(q)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${enc(typeof v === 'object' ? JSON.stringify(v) : String(v))}`);
    return this.t.request('GET', `${CS}/sync?${parts.join('&')}`, { token: this.user.accessToken });
  }

  async createRoom(body: Record<string, unknown> = {}): Promise<string> {
    return (await this.call('POST', '/createRoom', body)).room_id;
  }

  async send(roomId: string, body: string, extra: Record<string, unknown> = {}, type = 'm.room.message'): Promise<string> {
    return (await this.call('PUT', `/rooms/${enc(roomId)}/send/${enc(type)}/c${++txn}`, { msgtype: 'm.text', body, ...extra })).event_id;
  }

  async sendContent(roomId: string, type: string, content: unknown): Promise<string> {
    return (await this.call('PUT', `/rooms/${enc(roomId)}/send/${enc(type)}/c${++txn}`, content)).event_id;
  }

  async state(roomId: string, type: string, stateKey: string, content: unknown): Promise<string> {
    return (await this.call('PUT', `/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`, content)).event_id;
  }

  join(roomId: string) {
    return this.call('POST', `/join/${enc(roomId)}`, {});
  }

  leave(roomId: string) {
    return this.call('POST', `/rooms/${enc(roomId)}/leave`, {});
  }

  invite(roomId: string, userId: string) {
    return this.call('POST', `/rooms/${enc(roomId)}/invite`, { user_id: userId });
  }
}

export async function clients(t: TestServer, n: number): Promise<SyncClient[]> {
  const out: SyncClient[] = [];
  for (let i = 0; i < n; i++) out.push(new SyncClient(t, await t.registerUser()));
  return out;
}

/** The bodies of the m.room.message events of a timeline. */
export function bodies(events: any[]): string[] {
  return events.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
}

/** type|state_key of state events. */
export function keys(events: any[]): string[] {
  return events.map((e) => `${e.type}|${e.state_key}`);
}
