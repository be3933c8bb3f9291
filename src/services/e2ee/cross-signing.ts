/**
 * Cross-signing (spec: Client-Server API §10.12.x "Cross-signing"): POST /keys/device_signing/upload
 * and POST /keys/signatures/upload. Every signature is checked before it is stored; a forged one
 * stores nothing (upload) or is reported per key (signatures).
 */
import type { Queryable } from '../../storage/database.js';
import type { E2eeKeyStore, CrossSigningKeyRow, SignatureRow } from '../../storage/e2ee-keys.js';
import type { JsonObject } from '../../matrix/types.js';
import { MatrixError } from '../../errors.js';
import type { DeviceListService } from './device-lists.js';
import type { KeyService } from './keys.js';
import { crossSigningPublicKey, hasValidSignature, invalidSignature, isObject, sameSignedContent, signaturesBy } from './signed-json.js';
import { dictionary } from '../../matrix/types.js';

type KeyType = 'master' | 'self_signing' | 'user_signing';
const FIELDS: [string, KeyType][] = [
  ['master_key', 'master'],
  ['self_signing_key', 'self_signing'],
  ['user_signing_key', 'user_signing'],
];
const MAX_KEY_BYTES = 16 * 1024;

interface Failure {
  errcode: string;
  error: string;
}

export class CrossSigningService {
  constructor(
    private readonly store: E2eeKeyStore,
    private readonly keys: KeyService,
    private readonly deviceLists: DeviceListService,
    private readonly now: () => number = Date.now,
  ) {}

  private async current(userId: string, db?: Queryable): Promise<Map<KeyType, CrossSigningKeyRow>> {
    return new Map((await this.store.crossSigningKeys([userId], db)).map((k) => [k.keyType, k]));
  }

  /** MSC3967: the first upload (no master key yet) needs no user-interactive auth. */
  async needsAuth(userId: string, body: JsonObject): Promise<boolean> {
    const existing = await this.current(userId);
    const master = existing.get('master');
    if (!master) return false;
    // Uploading exactly the keys already stored changes nothing (a client retrying): no auth needed.
    for (const [field, type] of FIELDS) {
      const v = body[field];
      if (v === undefined) continue;
      const stored = existing.get(type);
      if (!isObject(v) || !stored || !sameSignedContent(v, JSON.parse(stored.keyJson) as JsonObject)) return true;
    }
    return false;
  }

  /** POST /keys/device_signing/upload, after authentication. */
  async uploadSigningKeys(userId: string, body: JsonObject): Promise<void> {
    const given = new Map<KeyType, { json: JsonObject; publicKey: string }>();
    for (const [field, type] of FIELDS) {
      const v = body[field];
      if (v === undefined || v === null) continue;
      if (!isObject(v)) throw new MatrixError(400, 'M_BAD_JSON', `'${field}' must be an object`);
      if (v.user_id !== userId) throw new MatrixError(400, 'M_INVALID_PARAM', `${field}.user_id must be the authenticated user`);
      if (!Array.isArray(v.usage) || !v.usage.includes(type)) throw new MatrixError(400, 'M_INVALID_PARAM', `${field}.usage must include '${type}'`);
      const publicKey = crossSigningPublicKey(v);
      if (!publicKey) throw new MatrixError(400, 'M_INVALID_PARAM', `${field}.keys must hold exactly one key, 'ed25519:<public key>'`);
      const { unsigned: _u, ...json } = v;
      if (Buffer.byteLength(JSON.stringify(json)) > MAX_KEY_BYTES) throw new MatrixError(413, 'M_TOO_LARGE', `${field} is too large`);
      given.set(type, { json, publicKey });
    }
    if (!given.size) return;

    await this.deviceLists.change(userId, async (tx) => {
      const existing = await this.current(userId, tx);
      const masterPublic = given.get('master')?.publicKey ?? existing.get('master')?.publicKey;
      if (!masterPublic) throw new MatrixError(400, 'M_MISSING_PARAM', 'A master key is required before other cross-signing keys');
      // spec: the self-signing and user-signing keys are signed by the master key.
      for (const type of ['self_signing', 'user_signing'] as KeyType[]) {
        const k = given.get(type);
        if (k && !hasValidSignature(k.json, userId, `ed25519:${masterPublic}`, masterPublic)) {
          throw invalidSignature(`The ${type} key is not signed by the master key`);
        }
      }
      // Signatures a client put on its new master key with its own devices are checked too.
      const master = given.get('master');
      if (master) {
        for (const [keyId] of signaturesBy(master.json, userId)) {
          if (keyId === `ed25519:${master.publicKey}`) {
            if (!hasValidSignature(master.json, userId, keyId, master.publicKey)) throw invalidSignature('The master key self-signature does not verify');
            continue;
          }
          if (!keyId.startsWith('ed25519:')) continue;
          const device = await this.keys.deviceEd25519(userId, keyId.slice('ed25519:'.length), tx);
          if (device && !hasValidSignature(master.json, userId, keyId, device.key)) throw invalidSignature(`The signature ${keyId} on the master key does not verify`);
        }
      }
      let changed = false;
      let publicChange = false;
      const obsoleteSigners: string[] = [];
      for (const [type, k] of given) {
        const old = existing.get(type);
        if (await this.store.setCrossSigningKey(tx, userId, type, k.publicKey, JSON.stringify(k.json), this.now())) {
          changed = true;
          if (type !== 'user_signing') publicChange = true;
          if (old && old.publicKey !== k.publicKey) obsoleteSigners.push(`ed25519:${old.publicKey}`);
        }
      }
      // A replaced key's signatures no longer mean anything.
      if (obsoleteSigners.length) await this.store.deleteSignaturesBy(tx, userId, obsoleteSigners);
      return { changed, selfOnly: !publicChange, result: undefined };
    });
  }

  /** POST /keys/signatures/upload: each signed key is checked on its own; failures are per key. */
  async uploadSignatures(userId: string, body: JsonObject): Promise<{ failures: Record<string, Record<string, Failure>> }> {
    // Keyed by the body's user and key IDs, which may be "__proto__".
    const failures = dictionary<Record<string, Failure>>();
    const fail = (u: string, k: string, errcode: string, error: string) => ((failures[u] ??= dictionary())[k] = { errcode, error });
    const mine = await this.current(userId);
    const selfSigning = mine.get('self_signing');
    const userSigning = mine.get('user_signing');
    const toStore: SignatureRow[] = [];
    let ownChanged = false;
    let othersSigned = false;

    for (const [targetUser, objects] of Object.entries(body)) {
      if (!isObject(objects)) {
        fail(targetUser, '', 'M_BAD_JSON', 'Expected an object of signed keys');
        continue;
      }
      const targetCross = targetUser === userId ? mine : await this.current(targetUser);
      const targetMaster = targetCross.get('master');
      for (const [keyId, signed] of Object.entries(objects)) {
        if (!isObject(signed)) {
          fail(targetUser, keyId, 'M_BAD_JSON', 'Expected a signed key object');
          continue;
        }
        if (targetUser === userId) {
          if (targetMaster && keyId === targetMaster.publicKey) {
            // The user's own master key, signed by one of their devices.
            if (!sameSignedContent(signed, JSON.parse(targetMaster.keyJson) as JsonObject)) {
              fail(targetUser, keyId, 'M_INVALID_SIGNATURE', 'The signed object does not match the stored master key');
              continue;
            }
            let ok = 0;
            let bad = '';
            for (const [sigKeyId, signature] of signaturesBy(signed, userId)) {
              if (sigKeyId === `ed25519:${targetMaster.publicKey}` || !sigKeyId.startsWith('ed25519:')) continue;
              const device = await this.keys.deviceEd25519(userId, sigKeyId.slice('ed25519:'.length));
              if (!device) {
                bad = `Unknown signing device ${sigKeyId}`;
                continue;
              }
              if (!hasValidSignature(signed, userId, sigKeyId, device.key)) {
                bad = `The signature ${sigKeyId} does not verify`;
                continue;
              }
              toStore.push({ targetUserId: userId, targetKeyId: keyId, signerUserId: userId, signerKeyId: sigKeyId, signature });
              ok++;
            }
            if (bad) fail(targetUser, keyId, 'M_INVALID_SIGNATURE', bad);
            else if (!ok) fail(targetUser, keyId, 'M_INVALID_SIGNATURE', 'No device signature found on the master key');
            else ownChanged = true;
            continue;
          }
          // One of the user's own devices, signed by their self-signing key.
          const device = await this.keys.deviceEd25519(userId, keyId);
          if (!device) {
            fail(targetUser, keyId, 'M_NOT_FOUND', 'Unknown device or key');
            continue;
          }
          if (!selfSigning) {
            fail(targetUser, keyId, 'M_MISSING_PARAM', 'No self-signing key has been uploaded');
            continue;
          }
          if (!sameSignedContent(signed, device.keys)) {
            fail(targetUser, keyId, 'M_INVALID_SIGNATURE', 'The signed object does not match the stored device keys');
            continue;
          }
          const sigKeyId = `ed25519:${selfSigning.publicKey}`;
          const signature = signaturesBy(signed, userId).find(([k]) => k === sigKeyId)?.[1];
          if (!signature || !hasValidSignature(signed, userId, sigKeyId, selfSigning.publicKey)) {
            fail(targetUser, keyId, 'M_INVALID_SIGNATURE', 'The device is not validly signed by the self-signing key');
            continue;
          }
          toStore.push({ targetUserId: userId, targetKeyId: keyId, signerUserId: userId, signerKeyId: sigKeyId, signature });
          ownChanged = true;
          continue;
        }
        // Another user's master key, signed by this user's user-signing key.
        if (!targetMaster || keyId !== targetMaster.publicKey) {
          fail(targetUser, keyId, 'M_NOT_FOUND', "Only another user's master key can be signed");
          continue;
        }
        if (!userSigning) {
          fail(targetUser, keyId, 'M_MISSING_PARAM', 'No user-signing key has been uploaded');
          continue;
        }
        if (!sameSignedContent(signed, JSON.parse(targetMaster.keyJson) as JsonObject)) {
          fail(targetUser, keyId, 'M_INVALID_SIGNATURE', 'The signed object does not match the stored master key');
          continue;
        }
        const sigKeyId = `ed25519:${userSigning.publicKey}`;
        const signature = signaturesBy(signed, userId).find(([k]) => k === sigKeyId)?.[1];
        if (!signature || !hasValidSignature(signed, userId, sigKeyId, userSigning.publicKey)) {
          fail(targetUser, keyId, 'M_INVALID_SIGNATURE', 'The master key is not validly signed by the user-signing key');
          continue;
        }
        toStore.push({ targetUserId: targetUser, targetKeyId: keyId, signerUserId: userId, signerKeyId: sigKeyId, signature });
        othersSigned = true;
      }
    }
    if (toStore.length) {
      // Signatures on others' keys are seen by the signer only: only their own devices are told.
      await this.deviceLists.change(userId, async (tx) => {
        await this.store.addSignatures(tx, toStore);
        return { changed: true, selfOnly: !ownChanged && othersSigned, result: undefined };
      });
    }
    return { failures };
  }
}
