import { expect } from 'chai';
import { canonicalJson, canonicalJsonBytes, CanonicalJsonError, compareCodePoints } from '../../../src/matrix/canonical-json.js';

describe('canonical JSON', () => {
  // spec: Appendices §"Canonical JSON" §"Examples", inputs as written there.
  const specExamples: [string, string][] = [
    ['{}', '{}'],
    ['{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'],
    ['{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'],
    ['{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
    [
      `{
        "auth": {
          "success": true,
          "mxid": "@john.doe:example.com",
          "profile": {
            "display_name": "John Doe",
            "three_pids": [
              { "medium": "email", "address": "john.doe@example.org" },
              { "medium": "msisdn", "address": "123456789" }
            ]
          }
        }
      }`,
      '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
    ],
    ['{\n    "a": "日本語"\n}', '{"a":"日本語"}'],
    ['{\n    "本": 2,\n    "日": 1\n}', '{"日":1,"本":2}'],
    ['{\n    "a": "\\u65E5"\n}', '{"a":"日"}'],
    ['{\n    "a": null\n}', '{"a":null}'],
    ['{\n    "a": -0,\n    "b": 1e10\n}', '{"a":0,"b":10000000000}'],
  ];
  specExamples.forEach(([input, expected], i) => {
    it(`matches spec example ${i + 1}: ${expected}`, () => {
      expect(canonicalJson(JSON.parse(input))).to.equal(expected);
    });
  });

  it('sorts keys by code point, not by UTF-16 code unit', () => {
    // U+E000 is a single code unit 0xE000; U+1F600 is the surrogate pair D83D DE00.
    expect(canonicalJson({ '\u{1F600}': 1, '\uE000': 2 })).to.equal('{"\uE000":2,"\u{1F600}":1}');
    expect(compareCodePoints('\uFFFF', '\u{10000}')).to.be.lessThan(0);
    expect(compareCodePoints('ab', 'a')).to.be.greaterThan(0);
  });

  it('escapes only what the grammar requires', () => {
    expect(canonicalJson('a"b\\c')).to.equal('"a\\"b\\\\c"');
    expect(canonicalJson('\b\t\n\f\r')).to.equal('"\\b\\t\\n\\f\\r"');
    expect(canonicalJson('\u0001\u001f')).to.equal('"\\u0001\\u001f"');
    expect(canonicalJson('/\u007f\u2028é')).to.equal('"/\u007f\u2028é"');
  });

  it('encodes as UTF-8 bytes', () => {
    const bytes = canonicalJsonBytes({ a: '日本語' });
    expect(bytes.length).to.equal(8 + 9);
    expect(bytes.toString('utf8')).to.equal('{"a":"日本語"}');
  });

  it('accepts the integer range limits', () => {
    expect(canonicalJson([2 ** 53 - 1, -(2 ** 53) + 1])).to.equal('[9007199254740991,-9007199254740991]');
  });

  it('rejects integers outside [-(2^53)+1, 2^53-1]', () => {
    expect(() => canonicalJson({ a: 2 ** 53 })).to.throw(CanonicalJsonError, /outside/);
    expect(() => canonicalJson([-(2 ** 53)])).to.throw(CanonicalJsonError);
  });

  it('rejects floats, NaN and infinities', () => {
    expect(() => canonicalJson({ a: 1.5 })).to.throw(CanonicalJsonError, /integer/);
    expect(() => canonicalJson(NaN)).to.throw(CanonicalJsonError);
    expect(() => canonicalJson([Infinity])).to.throw(CanonicalJsonError);
  });

  it('rejects values JSON cannot represent', () => {
    expect(() => canonicalJson(undefined)).to.throw(CanonicalJsonError);
    expect(() => canonicalJson([undefined])).to.throw(CanonicalJsonError);
    expect(() => canonicalJson({ f: () => 1 })).to.throw(CanonicalJsonError);
    expect(() => canonicalJson(10n)).to.throw(CanonicalJsonError);
    expect(() => canonicalJson({ d: new Date(0) })).to.throw(CanonicalJsonError, /Date/);
    expect(() => canonicalJson(new Map())).to.throw(CanonicalJsonError);
    expect(() => canonicalJson(Buffer.from('x'))).to.throw(CanonicalJsonError);
  });

  it('rejects strings that are not valid Unicode', () => {
    expect(() => canonicalJson({ a: '\uD800' })).to.throw(CanonicalJsonError, /surrogate/);
    expect(() => canonicalJson({ ['x\uDC00']: 1 })).to.throw(CanonicalJsonError);
  });

  it('rejects circular structures', () => {
    const a: Record<string, unknown> = {};
    a['self'] = a;
    expect(() => canonicalJson(a)).to.throw(CanonicalJsonError, /circular/);
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).to.equal('{"a":{"x":1},"b":{"x":1}}');
  });

  it('leaves out properties whose value is undefined, as JSON.stringify does', () => {
    expect(canonicalJson({ a: 1, b: undefined })).to.equal('{"a":1}');
  });

  it('accepts null-prototype objects', () => {
    const o = Object.create(null) as Record<string, number>;
    o['z'] = 1;
    o['a'] = 2;
    expect(canonicalJson(o)).to.equal('{"a":2,"z":1}');
  });
});
