import { startTestServer } from '../harness.js';
import { performance } from 'node:perf_hooks';
const t = await startTestServer();
const db = t.server.services.storage.db;
const users: string[] = [];
for (let i = 0; i < 1000; i++) users.push(`@u${i}:test.local`);
await db.query(`INSERT INTO users (user_id, password_hash, created_ts) SELECT u, 'x', 0 FROM unnest($1::text[]) u`, [users]).catch(async (e) => { console.log(e.message); });
const uu: string[] = [], dd: string[] = [], jj: string[] = [];
for (const u of users) for (let d = 0; d < 3; d++) {
  const dev = `DEV${d}ABCDEFG`;
  uu.push(u); dd.push(dev);
  jj.push(JSON.stringify({ user_id: u, device_id: dev, algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'], keys: { [`curve25519:${dev}`]: 'a'.repeat(43), [`ed25519:${dev}`]: 'b'.repeat(43) }, signatures: { [u]: { [`ed25519:${dev}`]: 'c'.repeat(86) } } }));
}
await db.query(`INSERT INTO devices (user_id, device_id, display_name, created_ts) SELECT u, d, 'Phone', 0 FROM unnest($1::text[], $2::text[]) t(u, d)`, [uu, dd]);
await db.query(`INSERT INTO e2e_device_keys (user_id, device_id, key_json, ts) SELECT u, d, j, 0 FROM unnest($1::text[], $2::text[], $3::text[]) t(u, d, j)`, [uu, dd, jj]);
const pk = users.map((_, i) => 'k' + i);
await db.query(`INSERT INTO e2e_cross_signing_keys (user_id, key_type, public_key, key_json, ts) SELECT u, 'master', p, '{"user_id":"' || u || '","usage":["master"],"keys":{"ed25519:' || p || '":"' || p || '"}}', 0 FROM unnest($1::text[], $2::text[]) t(u, p)`, [users, pk]);
await db.query(`INSERT INTO e2e_cross_signing_keys (user_id, key_type, public_key, key_json, ts) SELECT u, 'self_signing', p || 's', '{"user_id":"' || u || '","usage":["self_signing"],"keys":{"ed25519:' || p || 's":"' || p || 's"}}', 0 FROM unnest($1::text[], $2::text[]) t(u, p)`, [users, pk]);
await db.query('ANALYZE');
const asker = await t.registerUser();
const body = { device_keys: Object.fromEntries(users.map((u) => [u, []])) };
const keys = t.server.services.e2ee.keys as any;
const store = keys.store;
for (let i = 0; i < 5; i++) {
  let a = performance.now();
  const rows = await store.queryDeviceKeys(users, []);
  const t1 = performance.now() - a; a = performance.now();
  const cs = await store.crossSigningKeys(users);
  const t2 = performance.now() - a; a = performance.now();
  await store.signaturesOf([...rows.map((r: any) => ({ userId: r.userId, keyId: r.deviceId })), ...cs.map((k: any) => ({ userId: k.userId, keyId: k.publicKey }))]);
  const t3 = performance.now() - a; a = performance.now();
  const r = await keys.query({ userId: asker.userId }, body);
  const t4 = performance.now() - a; a = performance.now();
  JSON.stringify(r);
  const t5 = performance.now() - a; a = performance.now();
  const h = await t.request('POST', '/_matrix/client/v3/keys/query', { token: asker.accessToken, body });
  const t6 = performance.now() - a;
  console.log({ devices: t1.toFixed(1), cross: t2.toFixed(1), sigs: t3.toFixed(1), service: t4.toFixed(1), stringify: t5.toFixed(1), http: t6.toFixed(1), n: Object.keys(h.body.device_keys).length });
}
await t.close();
process.exit(0);
