// A scripted "browser" for the OIDC browser-flow tests over plain HTTP:
// fetch with manual redirects and a cookie jar, HTML form scraping (the
// login and logout-confirmation pages), and the relying party's side of the
// code flow (authorization URL, PKCE, code exchange).

import { createHash, randomBytes } from 'node:crypto';
import { CookieJar } from './cookie-jar.js';

export interface PageResult {
  status: number;
  headers: Headers;
  text: string;
  /** The Location header, parsed (redirects only). */
  location: URL | null;
}

export class TestBrowser {
  readonly jar = new CookieJar();

  async get(url: string): Promise<PageResult> {
    return this.#send(url, { method: 'GET' });
  }

  async post(url: string, form: Record<string, string>): Promise<PageResult> {
    return this.#send(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  }

  async #send(url: string, init: { method: string; headers?: Record<string, string>; body?: string }): Promise<PageResult> {
    const headers: Record<string, string> = { ...init.headers };
    const cookie = this.jar.header(url);
    if (cookie !== undefined) headers['cookie'] = cookie;
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.jar.store(res);
    const location = res.headers.get('location');
    return { status: res.status, headers: res.headers, text: await res.text(), location: location === null ? null : new URL(location, url) };
  }
}

export interface HtmlForm {
  action: string;
  method: string;
  /** Every named input's value (hidden, text; checkboxes only when checked). */
  fields: Record<string, string>;
}

function attribute(tag: string, name: string): string | null {
  const match = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return match === null ? null : decodeEntities(match[1]!);
}

function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]!);
}

/** The first form of a page (enough for sessiond's pages, which have one). */
export function parseForm(html: string): HtmlForm {
  const open = /<form\b[^>]*>/.exec(html);
  if (open === null) throw new Error(`no form in page: ${html.slice(0, 300)}`);
  const end = html.indexOf('</form>', open.index);
  const body = html.slice(open.index, end);
  const fields: Record<string, string> = {};
  for (const match of body.matchAll(/<input\b[^>]*>/g)) {
    const tag = match[0];
    const name = attribute(tag, 'name');
    if (name === null) continue;
    const type = attribute(tag, 'type') ?? 'text';
    if (type === 'checkbox' && !/\schecked\b/.test(tag)) continue;
    fields[name] = attribute(tag, 'value') ?? (type === 'checkbox' ? 'on' : '');
  }
  return { action: attribute(open[0], 'action') ?? '', method: attribute(open[0], 'method') ?? 'get', fields };
}

export interface Pkce {
  verifier: string;
  challenge: string;
}

export function pkcePair(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** An authorization request URL for `realmUrl`. */
export function authorizationUrl(realmUrl: string, params: Record<string, string>): string {
  const url = new URL(`${realmUrl}/protocol/openid-connect/auth`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

