import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StatusSnapshot } from '../db/queries/status.ts';
import { renderStatusPage, type HtmlOptions } from '../reports/html.ts';
import { createGate, requestTarget, sendBusy, sendJson, sendText } from './respond.ts';

/**
 * The status page at `/`: the report views rendered as HTML for a person (src/reports/html.ts). Read-only (GET and
 * HEAD), served by every replica from the shared database. With STATUS_PAGE_TOKEN set it answers only to
 * `Authorization: Bearer <token>` or `?token=<token>` (a browser bookmark; the page's own reload keeps the query).
 * Without a token it answers only to clients on this host (loopback): the page lists error messages and counts an
 * operator may not want public, and the daemon's port usually faces the internet for webhooks.
 */
export interface StatusPageOptions extends Omit<HtmlOptions, 'refreshSeconds'> {
  token: string | undefined;
  /** Reads the page's data; `hours` (1–24, from `?hours=`, default 24) is the window of the charts and lists. */
  load: (hours: number) => Promise<StatusSnapshot>;
  refreshSeconds?: number;
  /** Pages read and rendered at once; more are answered 503 with Retry-After (default 4). */
  maxConcurrent?: number;
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
  const gate = createGate(opts.maxConcurrent ?? 4);
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = requestTarget(req);
    if (expected && !authorized(req, target, expected)) {
      return sendJson(res, 401, { error: 'unauthorized', message: 'the status page needs STATUS_PAGE_TOKEN: Authorization: Bearer <token> or ?token=<token>' }, {
        'www-authenticate': 'Bearer realm="intercom-sync status"',
        ...HEADERS,
      });
    }
    if (!expected && !isLoopback(req.socket.remoteAddress)) {
      return sendJson(res, 403, {
        error: 'forbidden',
        message: 'without STATUS_PAGE_TOKEN the status page answers only on this host (127.0.0.1, ::1); set STATUS_PAGE_TOKEN to open it to others with Authorization: Bearer <token> or ?token=<token>',
      }, HEADERS);
    }
    // Checked after access, so refusals of strangers never take a place from the operator.
    const release = gate.enter();
    if (!release) return sendBusy(res, 'status page');
    let html: string;
    try {
      html = renderStatusPage(await opts.load(hoursOf(target)), { ...opts, refreshSeconds: opts.refreshSeconds ?? 30 });
    } finally {
      release();
    }
    for (const [name, value] of Object.entries(HEADERS)) res.setHeader(name, value);
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store' });
      return void res.end();
    }
    sendText(res, 200, 'text/html; charset=utf-8', html);
  };
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (a dual-stack listener sees `::ffff:127.0.0.1`). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase();
  const v4 = a.startsWith('::ffff:') ? a.slice(7) : a;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4) || a === '::1';
}

function hoursOf(target: URL | null): number {
  const n = Number(target?.searchParams.get('hours') ?? 24);
  return Number.isInteger(n) && n >= 1 && n <= 24 ? n : 24;
}

function authorized(req: IncomingMessage, target: URL | null, expected: Buffer): boolean {
  const header = req.headers.authorization;
  // A prefix test, not a pattern: the header is the client's text.
  const bearer = header !== undefined && /^bearer\s/i.test(header.slice(0, 7)) ? header.slice(7).trim() : undefined;
  const given = bearer || target?.searchParams.get('token');
  // Digests have equal length whatever was sent, so the comparison takes the same time for every wrong guess.
  return typeof given === 'string' && given !== '' && timingSafeEqual(digest(given), expected);
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
