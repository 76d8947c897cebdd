// Reverse proxies (Keycloak 25+'s --proxy-headers / --proxy-trusted-addresses).
// Behind a balancer the TCP peer is the balancer: the client's address, the
// scheme and the host it asked for arrive in headers, which are believed only
// when the option says which family to read and the peer is a trusted proxy.
// Fastify's trustProxy reads X-Forwarded-For/-Proto/-Host (request.ip,
// request.protocol, request.host); for RFC 7239 `Forwarded` this module
// translates that header into the X-Forwarded-* form first and drops any
// X-Forwarded-* the client sent, so only the configured family counts.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isIP } from 'node:net';
import type { NodeOptions } from '../config/options.js';

export type ProxyOptions = Pick<NodeOptions, 'proxyHeaders' | 'proxyTrustedAddresses'>;

/** Fastify's `trustProxy`: off without proxy headers; the trusted list, or every sender when it is empty. */
export function trustProxySetting(options: ProxyOptions): boolean | string[] {
  if (options.proxyHeaders === 'none') return false;
  return options.proxyTrustedAddresses.length === 0 ? true : [...options.proxyTrustedAddresses];
}

const X_FORWARDED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'] as const;

/** Installs the header translation the options ask for (before any route runs). */
export function registerProxyHeaders(app: FastifyInstance, options: ProxyOptions): void {
  if (options.proxyHeaders === 'xforwarded') return; // Fastify reads them; `Forwarded` is ignored.
  app.addHook('onRequest', async (request) => {
    for (const name of X_FORWARDED) delete request.headers[name];
    if (options.proxyHeaders === 'forwarded') applyForwarded(request);
  });
}

/** `Forwarded: for=192.0.2.60;proto=https;host=sso.example, for=10.0.0.1` as X-Forwarded-* headers. */
function applyForwarded(request: FastifyRequest): void {
  const header = request.headers['forwarded'];
  if (header === undefined) return;
  const elements = parseForwarded(Array.isArray(header) ? header.join(',') : header);
  const fors = elements.map((e) => forAddress(e['for'])).filter((a): a is string => a !== null);
  if (fors.length > 0) request.headers['x-forwarded-for'] = fors.join(', ');
  // The element added by the nearest proxy is the last one.
  const proto = elements.findLast((e) => e['proto'] !== undefined)?.['proto'];
  if (proto === 'http' || proto === 'https') request.headers['x-forwarded-proto'] = proto;
  const host = elements.findLast((e) => e['host'] !== undefined)?.['host'];
  if (host !== undefined && /^[A-Za-z0-9.:\[\]-]+$/.test(host)) request.headers['x-forwarded-host'] = host;
}

/** RFC 7239 §4: comma-separated elements of semicolon-separated `name=value` pairs, values optionally quoted. */
export function parseForwarded(text: string): Array<Record<string, string>> {
  const elements: Array<Record<string, string>> = [];
  for (const part of text.split(',')) {
    const element: Record<string, string> = {};
    for (const pair of part.split(';')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim().toLowerCase();
      let value = pair.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).replaceAll('\\"', '"');
      element[name] = value;
    }
    elements.push(element);
  }
  return elements;
}

/** The IP address in a `for=` value (`192.0.2.60`, `"[2001:db8::17]:4711"`, `198.51.100.7:80`); null for `unknown` or obfuscated names. */
function forAddress(value: string | undefined): string | null {
  if (value === undefined) return null;
  let address = value;
  if (address.startsWith('[')) address = address.slice(1, address.indexOf(']') < 0 ? undefined : address.indexOf(']'));
  else if (address.split(':').length === 2) address = address.slice(0, address.indexOf(':'));
  return isIP(address) === 0 ? null : address;
}
