/**
 * Issue 6: E2EE key endpoints.
 * - POST /keys/query for 1 000 users with 3 devices each (and master + self-signing keys): target
 *   under 200 ms.
 * - 50 concurrent POST /keys/claim on one device's 100 one-time keys: no key twice; time.
 *
 * Setup over the Client-Server API: each user registers (device 1) and logs in twice (devices 2
 * and 3); every device uploads self-signed device keys; each user uploads cross-signing keys.
 * Password hashing makes the setup take a while; it is not measured.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { MatrixClient, type Session } from './lib/client.js';
import { BenchError, type Benchmark, type Figure } from './lib/report.js';
import { NO_RATE_LIMITS, envNumber, pool, step } from './lib/harness.js';
import { Installation, databaseSectionFromUrl, dropExternalDatabase, type RunningServer } from './lib/server.js';
import { median, min, percentile } from './lib/stats.js';
import { signingKeyFromSeed, signBytes, signedJsonBytes, type SigningKey } from '../src/matrix/signing.js';

const QUERY_TARGET_MS = 200;


function sign<T extends Record<string, any>>(obj: T, signer: string, keyId: string, key: SigningKey): T {
  const signature = signBytes(key, signedJsonBytes(obj));
  return { ...obj, signatures: { ...(obj.signatures ?? {}), [signer]: { ...(obj.signatures?.[signer] ?? {}), [keyId]: signature } } };
}

function b64(n: number): string {
  return randomBytes(n).toString('base64').replace(/=+$/, '');
}

function deviceKeys(s: Session, key: SigningKey) {
  return sign(
    {
      user_id: s.userId,
      device_id: s.deviceId,
      algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
      keys: { [`curve25519:${s.deviceId}`]: b64(32), [`ed25519:${s.deviceId}`]: key.publicKeyBase64 },
    },
    s.userId,
    `ed25519:${s.deviceId}`,
    key,
  );
}

function newKey(): SigningKey {
  return signingKeyFromSeed(randomBytes(32), 'k');
}



export const keys: Benchmark = {
  name: 'keys',
  description: '/keys/query for 1000 users x 3 devices; 50 concurrent /keys/claim on 100 keys (issue 6)',
  async run(ctx) {
    const users = envNumber('VECHE_BENCH_KEY_USERS', 1000);
    const devicesPerUser = 3;
    const databaseUrl = process.env.VECHE_BENCH_DATABASE_URL;
    const databaseName = `veche_bench_${randomBytes(4).toString('hex')}`;
    const install = new Installation('keys', {
      extra: {
        ...NO_RATE_LIMITS,
        ...(databaseUrl ? { database: databaseSectionFromUrl(databaseUrl, databaseName) } : {}),
      },
    });
    let server: RunningServer | undefined;
    try {
      ctx.log(`starting Veche (${databaseUrl ? `PostgreSQL at ${new URL(databaseUrl).host}` : 'embedded PostgreSQL'})`);
      server = await install.start();
      const base = server.baseUrl;
      const runId = Date.now().toString(36);
      const password = `pw-${randomBytes(8).toString('hex')}`;

      ctx.log(`setting up ${users} users with ${devicesPerUser} devices each`);
      const t0 = performance.now();
      const userIds: string[] = [];
      await pool(
        Array.from({ length: users }, (_, i) => i),
        8,
        async (i) => {
          const localpart = `k${runId}_${i}`;
          const first = new MatrixClient(base);
          const s1 = await step(`registering user ${i}`, () => first.registerWithSharedSecret(install.sharedSecret, localpart, password));
          userIds[i] = s1.userId;
          const sessions: [MatrixClient, Session][] = [[first, s1]];
          for (let d = 1; d < devicesPerUser; d++) {
            const c = new MatrixClient(base);
            sessions.push([c, await step(`logging in user ${i}`, () => c.login(localpart, password))]);
          }
          for (const [c, s] of sessions) {
            await step(`uploading keys of ${s.userId}/${s.deviceId}`, () => c.request('POST', '/_matrix/client/v3/keys/upload', { device_keys: deviceKeys(s, newKey()) }));
          }
          const master = newKey();
          const selfSigning = newKey();
          const xs = (usage: string, k: SigningKey) => ({ user_id: s1.userId, usage: [usage], keys: { [`ed25519:${k.publicKeyBase64}`]: k.publicKeyBase64 } });
          await step(`uploading cross-signing keys of ${s1.userId}`, () =>
            first.request('POST', '/_matrix/client/v3/keys/device_signing/upload', {
              master_key: xs('master', master),
              self_signing_key: sign(xs('self_signing', selfSigning), s1.userId, `ed25519:${master.publicKeyBase64}`, master),
            }),
          );
          if ((i + 1) % 100 === 0) ctx.log(`${i + 1}/${users} users set up, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        },
      );

      // --- /keys/query ---
      const asker = new MatrixClient(base);
      await asker.registerWithSharedSecret(install.sharedSecret, `asker_${runId}`, password);
      const body = { device_keys: Object.fromEntries(userIds.map((u) => [u, []])), timeout: 10_000 };
      const payload = JSON.stringify(body);
      const runs = envNumber('VECHE_BENCH_QUERY_RUNS', 20);
      const times: number[] = [];
      let devicesReturned = 0;
      let coldMs = 0;
      let bytes = 0;
      for (let i = 0; i <= runs; i++) {
        // Timed to the last byte of the answer; the benchmark's own JSON.parse of 2 MB is not the server's time.
        const q0 = performance.now();
        const raw = await step('POST /keys/query', async () => {
          const r = await fetch(`${base}/_matrix/client/v3/keys/query`, { method: 'POST', headers: { Authorization: `Bearer ${asker.accessToken}`, 'Content-Type': 'application/json' }, body: payload });
          const text = await r.text();
          if (r.status !== 200) throw new Error(`POST /keys/query answered ${r.status}: ${text.slice(0, 200)}`);
          return text;
        });
        const ms = performance.now() - q0;
        const res = JSON.parse(raw);
        if (i > 0) times.push(ms);
        else coldMs = ms; // the first run fills the server's device-keys cache
        devicesReturned = Object.values(res.device_keys as Record<string, object>).reduce((n, d) => n + Object.keys(d).length, 0);
        bytes = raw.length;
        if (Object.keys(res.master_keys).length !== users) throw new BenchError(`/keys/query returned ${Object.keys(res.master_keys).length} master keys, not ${users}`);
      }
      if (devicesReturned !== users * devicesPerUser) throw new BenchError(`/keys/query returned ${devicesReturned} devices, not ${users * devicesPerUser}`);
      ctx.log(`/keys/query: median ${median(times).toFixed(1)} ms over ${runs} runs`);

      // --- /keys/claim ---
      const owner = new MatrixClient(base);
      const ownerSession = await owner.registerWithSharedSecret(install.sharedSecret, `owner_${runId}`, password);
      const ownerKey = newKey();
      const otks: Record<string, unknown> = {};
      for (let i = 0; i < 100; i++) otks[`signed_curve25519:K${i}`] = sign({ key: b64(32) }, ownerSession.userId, `ed25519:${ownerSession.deviceId}`, ownerKey);
      const fallback = sign({ key: b64(32), fallback: true }, ownerSession.userId, `ed25519:${ownerSession.deviceId}`, ownerKey);
      await owner.request('POST', '/_matrix/client/v3/keys/upload', { device_keys: deviceKeys(ownerSession, ownerKey), one_time_keys: otks, fallback_keys: { 'signed_curve25519:FB': fallback } });
      const claimers: MatrixClient[] = [];
      for (let i = 0; i < 50; i++) {
        const c = new MatrixClient(base);
        c.accessToken = asker.accessToken;
        claimers.push(c);
      }
      const claimBody = { one_time_keys: { [ownerSession.userId]: { [ownerSession.deviceId]: 'signed_curve25519' } } };
      const seen = new Set<string>();
      const rounds: { wallMs: number; latencies: number[]; ids: string[] }[] = [];
      for (let round = 0; round < 2; round++) {
        const r0 = performance.now();
        const latencies: number[] = [];
        const results = await Promise.all(
          claimers.map(async (c) => {
            const s0 = performance.now();
            const res = await c.request('POST', '/_matrix/client/v3/keys/claim', claimBody);
            latencies.push(performance.now() - s0);
            return Object.keys(res.one_time_keys?.[ownerSession.userId]?.[ownerSession.deviceId] ?? {});
          }),
        );
        rounds.push({ wallMs: performance.now() - r0, latencies, ids: results.flat() });
      }
      for (const r of rounds) {
        for (const id of r.ids) {
          if (seen.has(id)) throw new BenchError(`one-time key ${id} was handed out twice`);
          seen.add(id);
        }
      }
      if (seen.size !== 100) throw new BenchError(`100 claims returned ${seen.size} distinct one-time keys, not 100`);
      const after = await owner.request('POST', '/_matrix/client/v3/keys/upload', {});
      const left = after.one_time_key_counts?.signed_curve25519 ?? -1;
      const fb = await asker.request('POST', '/_matrix/client/v3/keys/claim', claimBody);
      const fbIds = Object.keys(fb.one_time_keys?.[ownerSession.userId]?.[ownerSession.deviceId] ?? {});

      const figures: Figure[] = [
        { metric: `setup: ${users} users, ${users * devicesPerUser} devices with keys`, value: (performance.now() - t0) / 1000, unit: 's', note: 'not a target: password hashing dominates' },
        { metric: `/keys/query ${users} users x ${devicesPerUser} devices, median of ${runs}`, value: median(times), unit: 'ms', target: QUERY_TARGET_MS },
        { metric: '/keys/query, min', value: min(times), unit: 'ms' },
        { metric: '/keys/query, first (cold: no cached device keys)', value: coldMs, unit: 'ms', target: QUERY_TARGET_MS },
        { metric: '/keys/query, p90', value: percentile(times, 90), unit: 'ms' },
        { metric: '/keys/query response size', value: bytes / 1024 / 1024, unit: 'MB', note: `${devicesReturned} devices` },
        { metric: '50 concurrent /keys/claim, round 1 (keys 1-50), wall time', value: rounds[0]!.wallMs, unit: 'ms' },
        { metric: '50 concurrent /keys/claim, round 1, p50 latency', value: percentile(rounds[0]!.latencies, 50), unit: 'ms' },
        { metric: '50 concurrent /keys/claim, round 2 (keys 51-100), wall time', value: rounds[1]!.wallMs, unit: 'ms' },
        { metric: 'distinct one-time keys handed out in 100 claims', value: seen.size, unit: 'count', note: 'no key twice' },
        { metric: 'one-time keys left after the claims', value: left, unit: 'count', note: `then the fallback key: ${fbIds.join(', ') || 'none'}` },
      ];
      return figures;
    } finally {
      await server?.stop();
      if (databaseUrl) await dropExternalDatabase(databaseUrl, databaseName).catch((err: Error) => ctx.log(`could not drop ${databaseName}: ${err.message}`));
      install.remove();
    }
  },
};
