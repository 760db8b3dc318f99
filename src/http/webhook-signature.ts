import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Intercom signs each notification with `X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body>`, keyed with the
 * app's client secret. Checked on the raw bytes, before any parsing, in constant time.
 */
export function signBody(body: Buffer | string, secret: string): string {
  return `sha1=${createHmac('sha1', secret).update(body).digest('hex')}`;
}

export function verifySignature(body: Buffer, header: string | string[] | undefined, secret: string): boolean {
  if (typeof header !== 'string') return false;
  const m = /^sha1=([0-9a-fA-F]{40})$/.exec(header.trim());
  if (!m?.[1]) return false;
  const given = Buffer.from(m[1], 'hex');
  const expected = createHmac('sha1', secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}
