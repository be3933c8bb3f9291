/** Media IDs and mxc:// URIs (spec: Client-Server API "Matrix Content (mxc://) URIs"). */
import { randomBytes } from 'node:crypto';

// spec: a media ID is opaque but must be made of [A-Za-z0-9_-]; Synapse's are 24 letters.
const MEDIA_ID_RE = /^[A-Za-z0-9_-]{1,255}$/;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

export function isValidMediaId(id: string): boolean {
  return MEDIA_ID_RE.test(id);
}

export function newMediaId(): string {
  const bytes = randomBytes(24);
  let id = '';
  // 256 % 52 leaves a slight bias; unimportant for an unguessable 24-letter ID (~136 bits).
  for (const b of bytes) id += ALPHABET[b % ALPHABET.length];
  return id;
}

export function mxcUri(serverName: string, mediaId: string): string {
  return `mxc://${serverName}/${mediaId}`;
}
