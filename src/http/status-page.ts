import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StatusSnapshot } from '../db/queries/status.ts';
import { renderStatusPage, type HtmlOptions } from '../reports/html.ts';
import { sendJson, sendText } from './respond.ts';

/**
 * The status page at `/`: the report views rendered as HTML for a person (src/reports/html.ts). Read-only (GET and
 * HEAD), served by every replica from the shared database. With STATUS_PAGE_TOKEN set it answers only to
 * `Authorization: Bearer <token>` or `?token=<token>` (a browser bookmark; the page's own reload keeps the query).
 */
export interface StatusPageOptions extends Omit<HtmlOptions, 'refreshSeconds'> {
  token: string | undefined;
  /** Reads the page's data; `hours` (1–24, from `?hours=`, default 24) is the window of the charts and lists. */
  load: (hours: number) => Promise<StatusSnapshot>;
  refreshSeconds?: number;
}

// Nothing on the page needs a script, a frame or a remote resource; inline styles and SVG are all it uses. The token
// may sit in the URL, so it must not leak through Referer headers either.
const HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export function createStatusPageHandler(opts: StatusPageOptions) {
  const expected = opts.token === undefined ? null : digest(opts.token);
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (expected && !authorized(req, expected)) {
      return sendJson(res, 401, { error: 'unauthorized', message: 'the status page needs STATUS_PAGE_TOKEN: Authorization: Bearer <token> or ?token=<token>' }, {
        'www-authenticate': 'Bearer realm="intercom-sync status"',
        ...HEADERS,
      });
    }
    const html = renderStatusPage(await opts.load(hoursOf(req)), { ...opts, refreshSeconds: opts.refreshSeconds ?? 30 });
    for (const [name, value] of Object.entries(HEADERS)) res.setHeader(name, value);
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store' });
      return void res.end();
    }
    sendText(res, 200, 'text/html; charset=utf-8', html);
  };
}

function hoursOf(req: IncomingMessage): number {
  const n = Number(new URL(req.url ?? '/', 'http://localhost').searchParams.get('hours') ?? 24);
  return Number.isInteger(n) && n >= 1 && n <= 24 ? n : 24;
}

function authorized(req: IncomingMessage, expected: Buffer): boolean {
  const header = req.headers.authorization;
  const bearer = header?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
  const given = bearer ?? query;
  // Digests have equal length whatever was sent, so the comparison takes the same time for every wrong guess.
  return given !== undefined && given !== null && timingSafeEqual(digest(given), expected);
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
