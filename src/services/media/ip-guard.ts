/**
 * Which addresses the URL previewer may connect to: none in url_preview_ip_range_blacklist (private,
 * loopback, link-local, … by default) unless url_preview_ip_range_whitelist names it. Checked on the
 * addresses a name resolves to, before any connection is made, and the connection then goes to
 * exactly the address that was checked (no second lookup a rebinding DNS server could answer
 * differently).
 */
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup } from 'node:dns/promises';

function toBlockList(ranges: string[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) {
    const [address, prefix] = range.trim().split('/');
    const family = isIP(address ?? '');
    if (!family) throw new Error(`not an IP range: ${range}`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address!, type);
    else list.addSubnet(address!, Number(prefix), type);
  }
  return list;
}

export class IpRangeGuard {
  private readonly blocked: BlockList;
  private readonly allowed: BlockList;

  constructor(blacklist: string[], whitelist: string[]) {
    this.blocked = toBlockList(blacklist);
    this.allowed = toBlockList(whitelist);
  }

  isAllowed(address: string): boolean {
    const family = isIP(address);
    if (!family) return false;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (this.allowed.check(address, type)) return true;
    return !this.blocked.check(address, type);
  }

  /**
   * The addresses of `host`, all of them allowed; throws BlockedAddressError if any is not (a name
   * with one private address among public ones is refused whole, as Synapse does).
   */
  async resolve(host: string): Promise<{ address: string; family: number }[]> {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    const addresses = isIP(bare) ? [{ address: bare, family: isIP(bare) }] : await dnsLookup(bare, { all: true, verbatim: true });
    if (!addresses.length) throw new Error(`no address for ${host}`);
    const bad = addresses.find((a) => !this.isAllowed(a.address));
    if (bad) throw new BlockedAddressError(host, bad.address);
    return addresses;
  }
}

export class BlockedAddressError extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(`${host} resolves to ${address}, which URL previews may not reach`);
  }
}
