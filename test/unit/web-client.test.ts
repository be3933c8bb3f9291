/** The built-in web client's config key and Content-Security-Policy (pure: no server, no browser). */
import { expect } from 'chai';
import { buildConfig, validateRawConfig, ConfigError } from '../../src/config/index.js';
import { contentSecurityPolicy } from '../../src/api/web/client.js';

const directives = (csp: string) => new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));

describe('web client', () => {
  describe('web_client config key', () => {
    it('is on by default and can be switched off', () => {
      expect(buildConfig(validateRawConfig({ server_name: 'example.org' }, 'test'), '/tmp').webClient).to.equal(true);
      expect(buildConfig(validateRawConfig({ server_name: 'example.org', web_client: false }, 'test'), '/tmp').webClient).to.equal(false);
    });

    it('must be a boolean', () => {
      expect(() => validateRawConfig({ server_name: 'example.org', web_client: 'yes' }, 'test')).to.throw(ConfigError, /web_client/);
    });
  });

  describe('Content-Security-Policy', () => {
    const csp = directives(contentSecurityPolicy('https://matrix.example.org/'));

    it('denies by default and runs only its own scripts, plus WebAssembly for olm', () => {
      expect(csp.get('default-src')).to.deep.equal(["'none'"]);
      expect(csp.get('script-src')).to.deep.equal(["'self'", "'wasm-unsafe-eval'"]);
      expect(csp.get('object-src')).to.deep.equal(["'none'"]);
      expect(csp.get('base-uri')).to.deep.equal(["'none'"]);
      expect(csp.get('frame-ancestors')).to.deep.equal(["'self'"]);
    });

    it('connects to its own origin and the homeserver named by public_baseurl only', () => {
      expect(csp.get('connect-src')).to.deep.equal(["'self'", 'https://matrix.example.org']);
      expect(csp.get('img-src')).to.deep.equal(["'self'", 'blob:', 'data:', 'https://matrix.example.org']);
      expect(csp.get('media-src')).to.deep.equal(["'self'", 'blob:', 'https://matrix.example.org']);
    });

    it('allows inline style attributes (media sizing) but no inline style elements or scripts', () => {
      expect(csp.get('style-src-attr')).to.deep.equal(["'unsafe-inline'"]);
      expect(csp.get('style-src-elem')).to.deep.equal(["'self'"]);
      expect(csp.get('style-src')).to.deep.equal(["'self'"]);
    });
  });
});
