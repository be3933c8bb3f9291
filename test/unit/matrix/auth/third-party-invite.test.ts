import { generateKeyPairSync, sign } from 'node:crypto';
import type { JsonObject } from '../../../../src/matrix/types.js';
import { ALICE, BOB, CAROL, TestRoom, expectAllowed, expectRefused } from './helpers.js';

const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const rawPublic = (k: typeof publicKey): string => k.export({ format: 'jwk' }).x!.replace(/-/g, '+').replace(/_/g, '/');

/** The identity server's signed block; keys sorted by hand so the test does not use the code under test. */
function signedBlock(mxid: string, token: string, key = privateKey): JsonObject {
  const bytes = Buffer.from(JSON.stringify({ mxid, token }), 'utf8');
  const sig = sign(null, bytes, key).toString('base64').replace(/=+$/, '');
  return { mxid, token, signatures: { 'id.test': { 'ed25519:0': sig } } };
}

function setup(keyField: 'public_key' | 'public_keys' = 'public_key'): TestRoom {
  const room = new TestRoom('11');
  const content: JsonObject =
    keyField === 'public_key'
      ? { display_name: 'b...', key_validity_url: 'https://id.test/v', public_key: rawPublic(publicKey) }
      : { display_name: 'b...', key_validity_url: 'https://id.test/v', public_key: rawPublic(other.publicKey), public_keys: [{ public_key: rawPublic(publicKey) }] };
  room.put(room.event({ type: 'm.room.third_party_invite', sender: ALICE, state_key: 'tok', content }));
  return room;
}

const invite = (room: TestRoom, sender: string, target: string, tpi: JsonObject) =>
  room.membership(sender, target, 'invite', { third_party_invite: { display_name: 'b...', ...tpi } });

describe('auth rules: third-party invites', () => {
  it('a token signed by the key in public_key is allowed', () => {
    const room = setup();
    expectAllowed(room.check(invite(room, ALICE, BOB, { signed: signedBlock(BOB, 'tok') })));
  });

  it('a token signed by a key in public_keys is allowed', () => {
    const room = setup('public_keys');
    expectAllowed(room.check(invite(room, ALICE, BOB, { signed: signedBlock(BOB, 'tok') })));
  });

  it('a signature by another key is refused', () => {
    const room = setup();
    expectRefused(room.check(invite(room, ALICE, BOB, { signed: signedBlock(BOB, 'tok', other.privateKey) })), /no valid signature/);
  });

  it('a tampered signed block is refused', () => {
    const room = setup();
    const signed = signedBlock(BOB, 'tok');
    signed['extra'] = 'x';
    expectRefused(room.check(invite(room, ALICE, BOB, { signed })), /no valid signature/);
  });

  it('a banned target is refused', () => {
    const room = setup();
    room.member(BOB, 'ban');
    expectRefused(room.check(invite(room, ALICE, BOB, { signed: signedBlock(BOB, 'tok') })), /banned/);
  });

  it('no signed block, or one without mxid/token, is refused', () => {
    const room = setup();
    expectRefused(room.check(invite(room, ALICE, BOB, {})), /no signed object/);
    const signed = signedBlock(BOB, 'tok');
    delete signed['token'];
    expectRefused(room.check(invite(room, ALICE, BOB, { signed })), /mxid or token/);
  });

  it('an mxid other than the state_key is refused', () => {
    const room = setup();
    expectRefused(room.check(invite(room, ALICE, CAROL, { signed: signedBlock(BOB, 'tok') })), /does not match state_key/);
  });

  it('a token with no m.room.third_party_invite is refused', () => {
    const room = setup();
    expectRefused(room.check(invite(room, ALICE, BOB, { signed: signedBlock(BOB, 'other') })), /no m\.room\.third_party_invite/);
  });

  it('a sender other than the one who sent the m.room.third_party_invite is refused', () => {
    const room = setup();
    room.member(CAROL, 'join');
    expectRefused(room.check(invite(room, CAROL, BOB, { signed: signedBlock(BOB, 'tok') })), /did not send/);
  });
});
