/**
 * Unpadded Base64 as Matrix uses it for keys, signatures, hashes and event IDs.
 * spec: Appendices §"Unpadded Base64" and §"URL-safe unpadded Base64".
 */

function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function encodeBase64(buf: Uint8Array): string {
  return asBuffer(buf).toString('base64').replace(/=+$/, '');
}

export function encodeBase64Url(buf: Uint8Array): string {
  // Node's base64url output is already unpadded.
  return asBuffer(buf).toString('base64url');
}

// Either alphabet, optional padding. Node's own decoder silently skips invalid characters, so a
// signature or key with garbage in it would decode to *something*; validate first.
const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Decodes standard or URL-safe Base64, padded or not.
 * spec: Appendices §"Unpadded Base64": decoders SHOULD accept input with or without padding.
 */
export function decodeBase64(s: string): Buffer {
  if (typeof s !== 'string' || !BASE64_RE.test(s)) {
    throw new Error('invalid base64: unexpected characters');
  }
  const body = s.replace(/=+$/, '');
  const padding = s.length - body.length;
  // A single trailing sextet cannot encode a whole byte.
  if (body.length % 4 === 1) throw new Error('invalid base64: impossible length');
  if (padding > 0 && (s.length % 4 !== 0 || padding !== (4 - (body.length % 4)) % 4)) {
    throw new Error('invalid base64: wrong padding');
  }
  // Node's base64 decoder reads both alphabets.
  return Buffer.from(body, 'base64');
}
