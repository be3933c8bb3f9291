import { startTestServer } from '/work/main/test/harness.js';
import { sdkClient, sdk } from '/work/main/test/sdk.js';
describe('probe', function () {
  this.timeout(60000);
  it('counts', async () => {
    const t = await startTestServer();
    const u = await t.registerUser();
    const { room_id } = await sdkClient(t.baseUrl, u).createRoom({ preset: sdk.Preset.PublicChat });
    const db = t.server.services.storage.db as any;
    for (let i = 0; i < 5; i++) await t.request('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room_id)}/send/m.room.message/w${i}`, { token: u.accessToken, body: { body: 'x' } });
    const orig = db.pool.query.bind(db.pool);
    const seen: string[] = [];
    const origConnect = db.pool.connect.bind(db.pool);
    db.pool.query = (q: any, v: any) => { seen.push(String(q).slice(0, 70).replace(/\s+/g, ' ')); return orig(q, v); };
    db.pool.connect = async () => { const c = await origConnect(); if (!c.__w) { c.__w = 1; const cq = c.query.bind(c); c.query = (q: any, v: any) => { seen.push('tx: ' + String(q).slice(0, 70).replace(/\s+/g, ' ')); return cq(q, v); }; } return c; };
    let t0 = performance.now();
    await t.request('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room_id)}/send/m.room.message/x1`, { token: u.accessToken, body: { body: 'x' } });
    console.log('one send ms', (performance.now() - t0).toFixed(1));
    console.log(seen.join('\n'));
    await t.close();
  });
});
