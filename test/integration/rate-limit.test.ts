/** Rate limiting (Synapse's rc_login / rc_registration): 429 M_LIMIT_EXCEEDED with retry_after_ms. */
import { expect } from 'chai';
import { sdkClient } from '../sdk.js';
import { expectMatrixError, rejectionOf, useServer } from './helpers/index.js';
import type { TestServer } from '../harness.js';

const generous = { per_second: 1000, burst_count: 1000 };
// A bucket that refills once in ~17 minutes: the limit cannot lift during the test, however slow the machine.
const tight = (burst: number) => ({ per_second: 0.001, burst_count: burst });

function loginBody(user: string, password: string) {
  return { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password };
}

function expectLimited(res: { status: number; body: any; headers: Headers }): void {
  expectMatrixError(res, 429, 'M_LIMIT_EXCEEDED');
  expect(res.body.retry_after_ms).to.be.a('number').above(0);
  expect(Number(res.headers.get('retry-after'))).to.be.above(0);
  expect(res.headers.get('access-control-allow-origin')).to.equal('*');
}

describe('rate limits', () => {
  describe('rc_login.address', () => {
    const s = useServer({ rc_login: { address: tight(2), account: generous, failed_attempts: generous } });

    it('refuses the third login from one address with 429 (matrix-js-sdk sees a rate-limit error)', async () => {
      const t: TestServer = s.t;
      await t.registerUser('lena', { password: 'lena-password' });
      for (let i = 0; i < 2; i++) {
        expect((await t.request('POST', '/_matrix/client/v3/login', { body: loginBody('lena', 'lena-password') })).status).to.equal(200);
      }
      expectLimited(await t.request('POST', '/_matrix/client/v3/login', { body: loginBody('lena', 'lena-password') }));
      const err = await rejectionOf(sdkClient(t.baseUrl).loginRequest(loginBody('lena', 'lena-password') as never));
      expect(err.isRateLimitError()).to.equal(true);
      expect(err.getRetryAfterMs()).to.be.above(0);
      // a limited login issued no session
      const { rows } = await t.server.services.storage.db.query<{ n: number }>("SELECT count(*)::int AS n FROM devices WHERE user_id = '@lena:test.local'");
      expect(rows[0]!.n).to.equal(3); // the admin-registration device + two logins
    });
  });

  describe('rc_login.failed_attempts', () => {
    const s = useServer({ rc_login: { address: generous, account: generous, failed_attempts: tight(2) } });

    it('after too many wrong passwords even the right one is refused for a while', async () => {
      await s.t.registerUser('mona', { password: 'mona-password' });
      await s.t.registerUser('nils', { password: 'nils-password' });
      for (let i = 0; i < 2; i++) {
        expectMatrixError(await s.t.request('POST', '/_matrix/client/v3/login', { body: loginBody('mona', 'wrong') }), 403, 'M_FORBIDDEN');
      }
      expectLimited(await s.t.request('POST', '/_matrix/client/v3/login', { body: loginBody('mona', 'mona-password') }));
      // another account is not affected
      expect((await s.t.request('POST', '/_matrix/client/v3/login', { body: loginBody('nils', 'nils-password') })).status).to.equal(200);
    });
  });

  describe('rc_registration', () => {
    const s = useServer({ rc_registration: tight(3) });

    it('refuses registration requests over the limit with 429 and registers nobody', async () => {
      let last;
      for (let i = 0; i < 3; i++) {
        last = await s.t.request('GET', `/_matrix/client/v3/register/available?username=free${i}`);
        expect(last.status).to.equal(200);
      }
      expectLimited(await s.t.request('POST', '/_matrix/client/v3/register', { body: { username: 'olga', password: 'olga-password' } }));
      expect(await s.t.server.services.storage.users.get('@olga:test.local')).to.equal(undefined);
      expectLimited(await s.t.request('GET', '/_matrix/client/v3/register/available?username=another'));
    });
  });
});
