// The HTML every browser endpoint answers with: one plain, accessible page
// layout (no scripts, no external resources), the escaping every reflected
// value goes through, and the security headers of pages and redirects.
//
// Content-Security-Policy: nothing may load but the inline stylesheet, and
// forms may only post to this server plus, where a page's form ends in a
// redirect to a relying party (login, logout confirmation), that party's
// origin: Chromium applies `form-action` to the redirects that follow a form
// submission, so 'self' alone would block the way back to the client.

import type { FastifyReply } from 'fastify';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for an HTML element body or a double-quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const STYLE = `
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center; background: #f2f3f5; color: #151515; }
  main { width: min(26rem, 100% - 2rem); background: #fff; padding: 2rem; border-radius: .5rem; box-shadow: 0 1px 4px rgba(0,0,0,.15); }
  .realm { margin: 0 0 .25rem; color: #4d5258; font-size: .9rem; }
  h1 { margin: 0 0 1.25rem; font-size: 1.5rem; }
  .field { display: flex; flex-direction: column; gap: .35rem; margin-bottom: 1rem; }
  label { font-weight: 600; }
  input[type=text], input[type=password] { font: inherit; padding: .55rem .6rem; border: 1px solid #8a8d90; border-radius: .25rem; }
  input:focus-visible, button:focus-visible { outline: 3px solid #0066cc; outline-offset: 1px; }
  .check { display: flex; align-items: center; gap: .5rem; margin-bottom: 1rem; }
  .check label { font-weight: normal; }
  button { font: inherit; font-weight: 600; width: 100%; padding: .6rem; border: 0; border-radius: .25rem; background: #0066cc; color: #fff; cursor: pointer; }
  .alert { padding: .6rem .75rem; border-left: 4px solid #c9190b; background: #faeae8; margin: 0 0 1rem; }
  .info { padding: .6rem .75rem; border-left: 4px solid #0066cc; background: #e7f1fa; margin: 0 0 1rem; }
  @media (prefers-color-scheme: dark) {
    body { background: #1b1d21; color: #e0e0e0; } main { background: #26292d; } .realm { color: #b8bbbe; }
    input[type=text], input[type=password] { background: #1b1d21; color: inherit; }
    .alert { background: #470000; } .info { background: #002952; }
  }
`;

export interface Page {
  /** The realm's display name (shown above the heading). */
  realmName: string;
  /** `<title>` and `<h1>`. */
  heading: string;
  /** Trusted HTML of the page body: every value in it must already be escaped. */
  bodyHtml: string;
  /** Extra `form-action` sources (origins the page's form may end up at). */
  formActions?: readonly string[];
}

function contentSecurityPolicy(formActions: readonly string[]): string {
  const sources = ["'self'", ...new Set(formActions)].join(' ');
  return `default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action ${sources}; frame-ancestors 'none'; base-uri 'none'`;
}

/** Headers of every browser response: nothing cached, never framed, no referrer leaking codes or tokens. */
export function setBrowserSecurityHeaders(reply: FastifyReply): void {
  void reply
    .header('cache-control', 'no-store, must-revalidate, max-age=0')
    .header('pragma', 'no-cache')
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer');
}

export function sendPage(reply: FastifyReply, status: number, page: Page): FastifyReply {
  setBrowserSecurityHeaders(reply);
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(page.heading)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<p class="realm">${escapeHtml(page.realmName)}</p>
<h1>${escapeHtml(page.heading)}</h1>
${page.bodyHtml}
</main>
</body>
</html>
`;
  return reply
    .code(status)
    .header('content-security-policy', contentSecurityPolicy(page.formActions ?? []))
    .type('text/html; charset=utf-8')
    .send(html);
}

/** Keycloak's error page: a heading and one message. */
export function sendErrorPage(reply: FastifyReply, status: number, realmName: string, message: string): FastifyReply {
  return sendPage(reply, status, {
    realmName,
    heading: 'We are sorry...',
    bodyHtml: `<p class="alert" id="error-message" role="alert">${escapeHtml(message)}</p>`,
  });
}

/** Keycloak's info page (e.g. "You are logged out"). */
export function sendInfoPage(reply: FastifyReply, status: number, realmName: string, heading: string, message: string): FastifyReply {
  return sendPage(reply, status, {
    realmName,
    heading,
    bodyHtml: `<p class="info" role="status">${escapeHtml(message)}</p>`,
  });
}

/** A 302 to a relying party (codes and errors travel in its query). */
export function sendRedirect(reply: FastifyReply, location: string): FastifyReply {
  setBrowserSecurityHeaders(reply);
  return reply.code(302).header('location', location).send();
}
