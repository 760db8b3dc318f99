import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The request target as a URL, or null when it is not one: `new URL` throws on targets such as `http://[`, and a
 * throw in a request listener would end the process. https://nodejs.org/api/url.html#new-urlinput-base
 */
export function requestTarget(req: IncomingMessage): URL | null {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return null;
  }
}

/**
 * At most `max` holders at once: `enter()` returns the release function, or null when all places are taken (the
 * caller answers 503 rather than queueing, so a flood costs nothing but the refusals).
 */
export function createGate(max: number): { enter(): (() => void) | null; readonly inUse: number } {
  let inUse = 0;
  return {
    enter() {
      if (inUse >= max) return null;
      inUse += 1;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        inUse -= 1;
      };
    },
    get inUse() {
      return inUse;
    },
  };
}

export class BodyTooLargeError extends Error {}
export class BodyTimeoutError extends Error {}

export interface ReadBodyOptions {
  /** Bytes kept at most; a body beyond it is refused before more than `limit` bytes are held. */
  limit: number;
  /** The whole body must have arrived within this many ms of the call, however slowly it trickles. */
  deadlineMs: number;
  /** Sees every chunk as it arrives (a streaming HMAC), before the body is complete. */
  onChunk?: (chunk: Buffer) => void;
}

/**
 * Reads the raw body (signatures are computed over bytes, not over re-serialised JSON). On refusal (too large, too
 * slow) the request stream is destroyed rather than drained: draining would let a hostile client keep the socket
 * and feed us bytes for as long as it likes.
 */
export function readBody(req: IncomingMessage, opts: ReadBodyOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const timer = setTimeout(() => fail(new BodyTimeoutError()), opts.deadlineMs);
    function fail(err: Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      chunks.length = 0;
      req.off('data', onData);
      req.pause();
      reject(err);
    }
    function onData(chunk: Buffer): void {
      size += chunk.length;
      if (size > opts.limit) return fail(new BodyTooLargeError());
      opts.onChunk?.(chunk);
      chunks.push(chunk);
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > opts.limit) return fail(new BodyTooLargeError());
    req.on('data', onData);
    req.once('end', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    req.once('error', fail);
    req.once('close', () => fail(new Error('the client closed the connection before the body ended')));
  });
}

/** Answers and closes the connection: for refusals whose request body we will not read. */
export function refuseAndClose(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJson(res, status, body, { connection: 'close', ...headers });
  // The unread body would otherwise keep the socket (and the client's bytes) alive until a timeout.
  res.once('finish', () => res.req.socket.destroy());
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Seconds a reader refused for being over its limit is asked to wait (the status page reloads every 30 s anyway). */
export const BUSY_RETRY_AFTER_SECONDS = 5;

/** 503 for a reader over its limit, with Retry-After: the sync's work comes first. */
export function sendBusy(res: ServerResponse, what: string, retryAfterSeconds = BUSY_RETRY_AFTER_SECONDS): void {
  sendJson(res, 503, { error: 'busy', message: `too many ${what} requests at once; try again in ${retryAfterSeconds} s` }, {
    'retry-after': String(retryAfterSeconds),
  });
}

export function sendText(res: ServerResponse, status: number, contentType: string, text: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
