// A minimal cookie jar for HTTP tests that act as a browser against one host:
// it keeps cookies by name and path, honours Max-Age/Expires (an expired
// cookie is deleted), sends those whose path prefixes the request path, and
// keeps every attribute so tests can assert the flags the server set.

export interface StoredCookie {
  name: string;
  value: string;
  path: string;
  /** Max-Age in seconds, or null when absent. */
  maxAge: number | null;
  expires: Date | null;
  httpOnly: boolean;
  secure: boolean;
  sameSite: string | null;
  /** The Set-Cookie line as received. */
  raw: string;
}

export function parseSetCookie(line: string): StoredCookie {
  const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
  const eq = pair.indexOf('=');
  const cookie: StoredCookie = {
    name: pair.slice(0, eq),
    value: pair.slice(eq + 1),
    path: '/',
    maxAge: null,
    expires: null,
    httpOnly: false,
    secure: false,
    sameSite: null,
    raw: line,
  };
  for (const attribute of attributes) {
    const [key = '', value = ''] = attribute.split('=');
    switch (key.toLowerCase()) {
      case 'path':
        cookie.path = value;
        break;
      case 'max-age':
        cookie.maxAge = Number.parseInt(value, 10);
        break;
      case 'expires':
        cookie.expires = new Date(attribute.slice(attribute.indexOf('=') + 1));
        break;
      case 'httponly':
        cookie.httpOnly = true;
        break;
      case 'secure':
        cookie.secure = true;
        break;
      case 'samesite':
        cookie.sameSite = value;
        break;
      default:
        break;
    }
  }
  return cookie;
}

export class CookieJar {
  readonly #cookies = new Map<string, StoredCookie>();
  /** The cookies set by the last response stored, by name (expiring ones included). */
  lastSet = new Map<string, StoredCookie>();

  store(response: Response): void {
    this.lastSet = new Map();
    for (const line of response.headers.getSetCookie()) {
      const cookie = parseSetCookie(line);
      this.lastSet.set(cookie.name, cookie);
      const key = `${cookie.name};${cookie.path}`;
      const expired = (cookie.maxAge !== null && cookie.maxAge <= 0) || (cookie.expires !== null && cookie.expires.getTime() <= Date.now());
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, cookie);
    }
  }

  /** The Cookie header for a request to `url`, or undefined when no cookie applies. */
  header(url: string): string | undefined {
    const path = new URL(url).pathname;
    const out: string[] = [];
    for (const cookie of this.#cookies.values()) if (path.startsWith(cookie.path)) out.push(`${cookie.name}=${cookie.value}`);
    return out.length === 0 ? undefined : out.join('; ');
  }

  get(name: string): StoredCookie | undefined {
    for (const cookie of this.#cookies.values()) if (cookie.name === name) return cookie;
    return undefined;
  }

  set(name: string, value: string, path: string): void {
    this.#cookies.set(`${name};${path}`, { ...parseSetCookie(`${name}=${value}`), path });
  }

  delete(name: string): void {
    for (const [key, cookie] of this.#cookies) if (cookie.name === name) this.#cookies.delete(key);
  }
}
