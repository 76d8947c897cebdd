// IP addresses as the session table stores them, and CIDR matching for bulk
// revocation filters. IPv4 addresses (nearly all of them behind a proxy-less
// deployment, and every test) pack into one uint32 column; anything else is
// kept as text. CIDR matching uses Node's own net.BlockList.

import { BlockList, isIP } from 'node:net';

/** The IPv4 address as an unsigned 32-bit int, or -1 if the text is not a canonical dotted quad. */
export function parseIpv4(text: string): number {
  const n = text.length;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      // no leading zeros: "010" would not format back to itself
      if (digits === 1 && part === 0) return -1;
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

export function formatIpv4(value: number): string {
  return `${(value >>> 24) & 255}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** Parses a CIDR block ("10.0.0.0/8", "2001:db8::/32") or a single address; null if invalid. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  if (typeof text !== 'string') return null;
  const slash = text.indexOf('/');
  const address = (slash < 0 ? text : text.slice(0, slash)).trim();
  const version = isIP(address);
  if (version === 0) return null;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const bits = version === 4 ? 32 : 128;
  if (slash < 0) return { address, prefix: bits, family };
  const prefixText = text.slice(slash + 1).trim();
  if (!/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix > bits) return null;
  return { address, prefix, family };
}

/**
 * A list of CIDR blocks compiled for matching: called with an address as
 * text, or through `ipv4` with an IPv4 address packed as parseIpv4 packs it
 * (what the session table holds), which answers the same without building a
 * string. Node's BlockList costs ~1.4 µs a check here, too much for a filter
 * walking a million sessions; the packed path compares masked integers, and
 * falls back to the BlockList only when the list holds IPv6 blocks (they can
 * match IPv4 addresses too, as ::ffff:0:0/96 does).
 */
export interface IpMatcher {
  (ip: string): boolean;
  ipv4(value: number): boolean;
}

/** A matcher for a list of CIDR blocks; throws RangeError naming the first invalid entry. */
export function cidrMatcher(cidrs: readonly string[]): IpMatcher {
  const list = new BlockList();
  const networks: number[] = [];
  const masks: number[] = [];
  let textOnly = false;
  for (const text of cidrs) {
    const block = parseCidr(text);
    if (block === null) throw new RangeError(`invalid CIDR block: ${JSON.stringify(text)}`);
    list.addSubnet(block.address, block.prefix, block.family);
    const address = block.family === 'ipv4' ? parseIpv4(block.address) : -1;
    if (address < 0) textOnly = true;
    const mask = block.prefix === 0 ? 0 : (0xffffffff << (32 - block.prefix)) >>> 0;
    networks.push((address & mask) >>> 0);
    masks.push(mask);
  }
  const matches = (ip: string): boolean => {
    const version = isIP(ip);
    if (version === 0) return false;
    return list.check(ip, version === 4 ? 'ipv4' : 'ipv6');
  };
  const ipv4 = (value: number): boolean => {
    if (textOnly) return matches(formatIpv4(value));
    for (let i = 0; i < masks.length; i++) if (((value & masks[i]!) >>> 0) === networks[i]) return true;
    return false;
  };
  return Object.assign(matches, { ipv4 });
}
