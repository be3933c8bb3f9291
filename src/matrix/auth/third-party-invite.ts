/**
 * The third-party invite branch of the membership rules: an invite carrying an identity
 * server's signed token (spec: Room Version 12, auth rule 5.4.1).
 */

import { verifyJsonSignature } from '../signing.js';
import { stateKeyOf, type AuthResult, type RoomEvent, type StateMap } from '../types.js';
import { ALLOW, isObject, membershipOf, reject } from './common.js';

/** spec: Room Version 12, auth rule 5.4.1.1 to 5.4.1.8. */
export function checkThirdPartyInvite(event: RoomEvent, authState: StateMap): AuthResult {
  const target = event.state_key!;
  // spec: Room Version 12, auth rule 5.4.1.1
  if (membershipOf(authState, target) === 'ban') return reject('target user is banned');

  const tpi = event.content['third_party_invite'];
  const signed = isObject(tpi) ? tpi['signed'] : undefined;
  // spec: Room Version 12, auth rule 5.4.1.2
  if (!isObject(signed)) return reject('third_party_invite has no signed object');
  const { mxid, token } = signed;
  // spec: Room Version 12, auth rule 5.4.1.3
  if (typeof mxid !== 'string' || typeof token !== 'string') return reject('signed lacks mxid or token');
  // spec: Room Version 12, auth rule 5.4.1.4
  if (mxid !== target) return reject('signed mxid does not match state_key');

  // spec: Room Version 12, auth rule 5.4.1.5
  const inviteEvent = authState.get(stateKeyOf('m.room.third_party_invite', token));
  if (!inviteEvent) return reject('no m.room.third_party_invite for the token');
  // spec: Room Version 12, auth rule 5.4.1.6
  if (inviteEvent.sender !== event.sender) return reject('sender did not send the m.room.third_party_invite');

  // spec: Room Version 12, auth rule 5.4.1.7 (keys in public_key and public_keys[].public_key)
  const keys: string[] = [];
  const single = inviteEvent.content['public_key'];
  if (typeof single === 'string') keys.push(single);
  const list = inviteEvent.content['public_keys'];
  if (Array.isArray(list)) {
    for (const entry of list) {
      if (isObject(entry) && typeof entry['public_key'] === 'string') keys.push(entry['public_key']);
    }
  }
  const signatures = signed['signatures'];
  if (isObject(signatures)) {
    for (const [server, byKeyId] of Object.entries(signatures)) {
      if (!isObject(byKeyId)) continue;
      for (const keyId of Object.keys(byKeyId)) {
        if (keys.some((key) => verifyJsonSignature(signed, server, keyId, key))) return ALLOW;
      }
    }
  }
  // spec: Room Version 12, auth rule 5.4.1.8
  return reject('no valid signature on the third party invite');
}
