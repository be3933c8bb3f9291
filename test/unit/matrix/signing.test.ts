import { expect } from 'chai';
import { decodeBase64, encodeBase64, encodeBase64Url } from '../../../src/matrix/base64.js';
import {
  formatSigningKeyFile,
  parseSigningKeyFile,
  signBytes,
  signingKeyFromSeed,
  signJson,
  verifyBytes,
  verifyJsonSignature,
} from '../../../src/matrix/signing.js';

// spec: Appendices §"Cryptographic Test Vectors" §"Signing Key".
const SEED_B64 = 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1';
const key = signingKeyFromSeed(decodeBase64(SEED_B64), '1');
const SERVER = 'domain';
const KEY_ID = 'ed25519:1';

describe('base64', () => {
  // spec: Appendices §"Unpadded Base64" examples.
  const examples: [string, string][] = [
    ['', ''],
    ['f', 'Zg'],
    ['fo', 'Zm8'],
    ['foo', 'Zm9v'],
    ['foob', 'Zm9vYg'],
    ['fooba', 'Zm9vYmE'],
    ['foobar', 'Zm9vYmFy'],
  ];
  for (const [plain, encoded] of examples) {
    it(`UNPADDED_BASE64(${JSON.stringify(plain)}) = ${JSON.stringify(encoded)} and back`, () => {
      expect(encodeBase64(Buffer.from(plain))).to.equal(encoded);
      expect(decodeBase64(encoded).toString()).to.equal(plain);
    });
  }

  it('uses - and _ for the URL-safe alphabet, unpadded', () => {
    const bytes = Uint8Array.from([0xfb, 0xff, 0xbf]);
    expect(encodeBase64(bytes)).to.equal('+/+/');
    expect(encodeBase64Url(bytes)).to.equal('-_-_');
    expect(encodeBase64Url(Buffer.from('f'))).to.equal('Zg');
  });

  it('encodes a Uint8Array view without its surrounding buffer', () => {
    const backing = Buffer.from('xxfooxx');
    expect(encodeBase64(new Uint8Array(backing.buffer, backing.byteOffset + 2, 3))).to.equal('Zm9v');
  });

  it('decodes padded, unpadded, standard and URL-safe input', () => {
    expect(decodeBase64('Zg==').toString()).to.equal('f');
    expect(decodeBase64('Zm8=').toString()).to.equal('fo');
    expect([...decodeBase64('-_-_')]).to.deep.equal([0xfb, 0xff, 0xbf]);
    expect([...decodeBase64('+/+/')]).to.deep.equal([0xfb, 0xff, 0xbf]);
  });

  it('throws on garbage', () => {
    for (const bad of ['Zm9v!', 'Zm 9v', 'Z', 'Zg=', 'Zm9v=', '=', 'Zg==='])
      expect(() => decodeBase64(bad), bad).to.throw(/invalid base64/);
  });
});

describe('signing keys', () => {
  it('derives the public key that verifies the spec test vectors', () => {
    expect(key.keyId).to.equal(KEY_ID);
    expect(key.publicKey.length).to.equal(32);
    const specSigned = {
      signatures: {
        domain: { 'ed25519:1': 'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ' },
      },
    };
    expect(verifyJsonSignature(specSigned, SERVER, KEY_ID, key.publicKeyBase64)).to.equal(true);
  });

  it('rejects seeds that are not 32 bytes and key versions outside [a-zA-Z0-9_]', () => {
    expect(() => signingKeyFromSeed(Buffer.alloc(31), '1')).to.throw(/32 bytes/);
    expect(() => signingKeyFromSeed(Buffer.alloc(32), 'a:b')).to.throw(/key version/);
    expect(() => signingKeyFromSeed(Buffer.alloc(32), '')).to.throw(/key version/);
  });

  it('parses and formats Synapse signing key files', () => {
    const text = `ed25519 a_1 ${SEED_B64}\n\n# old key\ned25519 b2 ${encodeBase64(Buffer.alloc(32, 7))}\n`;
    const keys = parseSigningKeyFile(text);
    expect(keys.map((k) => k.keyId)).to.deep.equal(['ed25519:a_1', 'ed25519:b2']);
    expect(keys[0]!.publicKeyBase64).to.equal(key.publicKeyBase64);
    const formatted = formatSigningKeyFile(keys);
    // The spec's seed string has non-zero unused low bits in its last character, so it comes back
    // in its canonical spelling (…XA0).
    expect(formatted).to.equal(`ed25519 a_1 ${SEED_B64.slice(0, -1)}0\ned25519 b2 ${encodeBase64(Buffer.alloc(32, 7))}\n`);
    expect(parseSigningKeyFile(formatted).map((k) => k.publicKeyBase64)).to.deep.equal(keys.map((k) => k.publicKeyBase64));
  });

  it('refuses malformed key file lines with the line number', () => {
    expect(() => parseSigningKeyFile(`ed25519 1\n`)).to.throw(/line 1/);
    expect(() => parseSigningKeyFile(`\ncurve25519 1 ${SEED_B64}`)).to.throw(/line 2.*algorithm/);
    expect(() => parseSigningKeyFile(`ed25519 1 ${encodeBase64(Buffer.alloc(16))}`)).to.throw(/32 bytes/);
    expect(() => parseSigningKeyFile(`ed25519 1 not*base64`)).to.throw(/base64/);
  });
});

describe('signing JSON', () => {
  // spec: Appendices §"Cryptographic Test Vectors" §"JSON Signing".
  it('signs the empty object as the spec does', () => {
    expect(signJson({}, SERVER, key)).to.deep.equal({
      signatures: {
        domain: { 'ed25519:1': 'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ' },
      },
    });
  });

  it('signs an object with data as the spec does', () => {
    expect(signJson({ one: 1, two: 'Two' }, SERVER, key)).to.deep.equal({
      one: 1,
      signatures: {
        domain: { 'ed25519:1': 'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw' },
      },
      two: 'Two',
    });
  });

  it('does not cover unsigned or existing signatures, keeps unsigned, and merges signatures', () => {
    const other = signingKeyFromSeed(Buffer.alloc(32, 1), 'other');
    const input = { one: 1, two: 'Two', unsigned: { age: 5 }, signatures: { elsewhere: { 'ed25519:x': 'abc' } } };
    const snapshot = structuredClone(input);
    const signed = signJson(signJson(input, SERVER, key), SERVER, other);
    expect(input).to.deep.equal(snapshot);
    expect(signed.unsigned).to.deep.equal({ age: 5 });
    expect(signed.signatures['elsewhere']).to.deep.equal({ 'ed25519:x': 'abc' });
    // Same signature as the spec vector: unsigned and signatures are not covered.
    expect(signed.signatures['domain']![KEY_ID]).to.equal(
      'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw',
    );
    expect(verifyJsonSignature(signed, SERVER, 'ed25519:other', other.publicKeyBase64)).to.equal(true);
    expect(verifyJsonSignature({ ...signed, unsigned: { age: 99 } }, SERVER, KEY_ID, key.publicKeyBase64)).to.equal(true);
  });

  it('fails verification for tampering, the wrong key, missing or malformed signatures', () => {
    const signed = signJson({ one: 1 }, SERVER, key);
    const otherKey = signingKeyFromSeed(Buffer.alloc(32, 2), '1');
    expect(verifyJsonSignature(signed, SERVER, KEY_ID, key.publicKeyBase64)).to.equal(true);
    expect(verifyJsonSignature({ ...signed, one: 2 }, SERVER, KEY_ID, key.publicKeyBase64)).to.equal(false);
    expect(verifyJsonSignature(signed, SERVER, KEY_ID, otherKey.publicKeyBase64)).to.equal(false);
    expect(verifyJsonSignature(signed, 'other.server', KEY_ID, key.publicKeyBase64)).to.equal(false);
    expect(verifyJsonSignature(signed, SERVER, 'ed25519:2', key.publicKeyBase64)).to.equal(false);
    expect(verifyJsonSignature({ one: 1 }, SERVER, KEY_ID, key.publicKeyBase64)).to.equal(false);
    const garbled = { one: 1, signatures: { domain: { 'ed25519:1': '!!!' } } };
    expect(verifyJsonSignature(garbled, SERVER, KEY_ID, key.publicKeyBase64)).to.equal(false);
    const unknownAlg = { one: 1, signatures: { domain: { 'curve25519:1': signed.signatures['domain']![KEY_ID]! } } };
    expect(verifyJsonSignature(unknownAlg, SERVER, 'curve25519:1', key.publicKeyBase64)).to.equal(false);
  });

  it('signs and verifies raw bytes', () => {
    const sig = signBytes(key, Buffer.from('hello'));
    expect(decodeBase64(sig).length).to.equal(64);
    expect(verifyBytes(key.publicKeyBase64, Buffer.from('hello'), sig)).to.equal(true);
    expect(verifyBytes(key.publicKeyBase64, Buffer.from('hellO'), sig)).to.equal(false);
    expect(verifyBytes('short', Buffer.from('hello'), sig)).to.equal(false);
  });
});
