/** Helpers for the room write-path tests: raw room requests, state reads, row counts. */
import { expect } from 'chai';
import type { TestServer, TestUser } from '../../harness.js';

export const enc = encodeURIComponent;
export const CS = '/_matrix/client/v3';

let txnCounter = 0;
export function nextTxnId(): string {
  return `t${Date.now().toString(36)}_${++txnCounter}`;
}

/** The content of a state event: through GET /rooms/{id}/state/{type}/{key} when that route exists, else the service. */
export async function stateContent(t: TestServer, user: TestUser, roomId: string, type: string, stateKey = ''): Promise<any | undefined> {
  const res = await t.request('GET', `${CS}/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`, { token: user.accessToken });
  if (res.status === 200) return res.body;
  if (res.body?.errcode !== 'M_UNRECOGNIZED') {
    expect(res.status, JSON.stringify(res.body)).to.equal(404);
    return undefined;
  }
  return (await stateEvent(t, roomId, type, stateKey))?.content;
}

/** The full current state event, read through the service (sender, unsigned and all). */
export async function stateEvent(t: TestServer, roomId: string, type: string, stateKey = ''): Promise<any | undefined> {
  return t.server.services.rooms.state.currentStateEvent(roomId, type, stateKey);
}

/** A user's current membership in a room ('leave' when none), through the service. */
export async function membershipOf(t: TestServer, roomId: string, userId: string): Promise<string> {
  return (await t.server.services.rooms.state.membership(roomId, userId)).membership;
}

export async function createRoomRaw(t: TestServer, user: TestUser, body: Record<string, unknown>) {
  return t.request('POST', `${CS}/createRoom`, { token: user.accessToken, body });
}

export async function sendRaw(t: TestServer, user: TestUser, roomId: string, type: string, content: unknown, txnId = nextTxnId()) {
  return t.request('PUT', `${CS}/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txnId)}`, { token: user.accessToken, body: content });
}

export async function putStateRaw(t: TestServer, user: TestUser, roomId: string, type: string, stateKey: string, content: unknown) {
  return t.request('PUT', `${CS}/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`, { token: user.accessToken, body: content });
}

/** Rows in the tables a room write touches, to show a refused request stored nothing. */
export async function roomRowCounts(t: TestServer): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of ['rooms', 'events', 'state_groups', 'state_group_entries', 'current_state', 'forward_extremities', 'room_aliases', 'event_txn_ids', 'redactions']) {
    const { rows } = await t.server.services.storage.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    out[table] = rows[0]!.n;
  }
  return out;
}

/** The room's events in stream order, as stored. */
export async function storedEvents(t: TestServer, roomId: string): Promise<{ event_id: string; type: string; sender: string; depth: number; json: any }[]> {
  const { rows } = await t.server.services.storage.db.query<{ event_id: string; type: string; sender: string; depth: string; json: string }>(
    'SELECT event_id, type, sender, depth, json FROM events WHERE room_id = $1 ORDER BY stream_ordering',
    [roomId],
  );
  return rows.map((r) => ({ event_id: r.event_id, type: r.type, sender: r.sender, depth: Number(r.depth), json: JSON.parse(r.json) }));
}
