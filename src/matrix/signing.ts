/**
 * ed25519 signing keys and signed JSON.
 * spec: Appendices §"Signing JSON", §"Signing Details", §"Checking for a Signature".
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJsonBytes } from './canonical-json.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import type { Signatures } from './types.js';

export interface SigningKey {
  algorithm: 'ed25519';
  version: string;
  /** `ed25519:<version>` */
  keyId: string;
  /** The 32-byte ed25519 seed (what the key file stores). */
  seed: Buffer;
  publicKey: Buffer;
  publicKeyBase64: string;
  privateKey: KeyObject;
}

// DER framing that turns a raw 32-byte seed / public key into PKCS#8 / SPKI, the forms node:crypto
// imports (RFC 8410 §7 and §4).
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

// spec: Server-Server API, GET /_matrix/key/v2/server: key versions match `[a-zA-Z0-9_]`.
const KEY_VERSION_RE = /^[a-zA-Z0-9_]+$/;

export function signingKeyFromSeed(seed: Buffer, version: string): SigningKey {
  if (seed.length !== 32) throw new Error(`ed25519 seed must be 32 bytes, got ${seed.length}`);
  if (!KEY_VERSION_RE.test(version)) throw new Error(`invalid key version ${JSON.stringify(version)}`);
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicKey = Buffer.from(spki.subarray(spki.length - 32));
  return {
    algorithm: 'ed25519',
    version,
    keyId: `ed25519:${version}`,
    seed: Buffer.from(seed),
    publicKey,
    publicKeyBase64: encodeBase64(publicKey),
    privateKey,
  };
}

/**
 * Reads Synapse's signing key file: one key per line, `ed25519 <version> <unpadded base64 seed>`.
 * Blank lines and `#` comments are skipped; anything else that does not parse throws.
 */
export function parseSigningKeyFile(text: string): SigningKey[] {
  const keys: SigningKey[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    if (parts.length !== 3) throw new Error(`signing key file line ${i + 1}: expected "<algorithm> <version> <seed>"`);
    const [algorithm, version, seedB64] = parts as [string, string, string];
    if (algorithm !== 'ed25519') throw new Error(`signing key file line ${i + 1}: unsupported algorithm ${algorithm}`);
    let seed: Buffer;
    try {
      seed = decodeBase64(seedB64);
    } catch {
      throw new Error(`signing key file line ${i + 1}: seed is not valid base64`);
    }
    try {
      keys.push(signingKeyFromSeed(seed, version));
    } catch (e) {
      throw new Error(`signing key file line ${i + 1}: ${(e as Error).message}`);
    }
  });
  return keys;
}

export function formatSigningKeyFile(keys: SigningKey[]): string {
  return keys.map((k) => `${k.algorithm} ${k.version} ${encodeBase64(k.seed)}\n`).join('');
}

export function signBytes(key: SigningKey, bytes: Uint8Array): string {
  return encodeBase64(sign(null, bytes, key.privateKey));
}

export function verifyBytes(publicKeyBase64: string, bytes: Uint8Array, sigBase64: string): boolean {
  let pub: Buffer;
  let sig: Buffer;
  try {
    pub = decodeBase64(publicKeyBase64);
    sig = decodeBase64(sigBase64);
  } catch {
    return false;
  }
  if (pub.length !== 32 || sig.length !== 64) return false;
  try {
    const keyObject = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, pub]), format: 'der', type: 'spki' });
    return verify(null, bytes, keyObject, sig);
  } catch {
    return false;
  }
}

/** The bytes a JSON signature covers: everything but `signatures` and `unsigned`. */
export function signedJsonBytes(obj: object): Buffer {
  const { signatures: _s, unsigned: _u, ...rest } = obj as Record<string, unknown>;
  return canonicalJsonBytes(rest);
}

/**
 * Signs `obj` as `serverName` and returns a copy with the signature merged into any existing
 * `signatures`; `unsigned` is kept but not covered. spec: Appendices §"Signing Details".
 */
export function signJson<T extends object>(obj: T, serverName: string, key: SigningKey): T & { signatures: Signatures } {
  const signature = signBytes(key, signedJsonBytes(obj));
  const existing = ((obj as { signatures?: unknown }).signatures ?? {}) as Signatures;
  const signatures: Signatures = {};
  for (const [server, sigs] of Object.entries(existing)) signatures[server] = { ...sigs };
  signatures[serverName] = { ...signatures[serverName], [key.keyId]: signature };
  return { ...obj, signatures };
}

/**
 * Checks one signature on a JSON object. spec: Appendices §"Checking for a Signature": a missing
 * entry, an unknown algorithm or undecodable base64 fails the check.
 */
export function verifyJsonSignature(obj: object, serverName: string, keyId: string, publicKeyBase64: string): boolean {
  if (!keyId.startsWith('ed25519:')) return false;
  const signatures = (obj as { signatures?: unknown }).signatures;
  if (typeof signatures !== 'object' || signatures === null) return false;
  const forServer = (signatures as Record<string, unknown>)[serverName];
  if (typeof forServer !== 'object' || forServer === null) return false;
  const sig = (forServer as Record<string, unknown>)[keyId];
  if (typeof sig !== 'string') return false;
  let bytes: Buffer;
  try {
    bytes = signedJsonBytes(obj);
  } catch {
    return false;
  }
  return verifyBytes(publicKeyBase64, bytes, sig);
}
