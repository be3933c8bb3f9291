/** Opaque random tokens; only their SHA-256 is ever stored. */
import { randomBytes } from 'node:crypto';
import { sha256 } from '../matrix/hashes.js';

export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function tokenHash(token: string): Buffer {
  return sha256(token);
}

const DEVICE_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Ten upper-case letters, like Synapse's generated device IDs. */
export function newDeviceId(): string {
  const bytes = randomBytes(10);
  let id = '';
  for (const b of bytes) id += DEVICE_ID_ALPHABET[b % 26];
  return id;
}

export function randomString(length: number): string {
  return randomBytes(Math.ceil((length * 3) / 4)).toString('base64url').slice(0, length);
}
