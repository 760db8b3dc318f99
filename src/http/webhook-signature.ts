import { createHmac, timingSafeEqual, type Hmac } from 'node:crypto';

/**
 * Intercom signs each notification with `X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body>`, keyed with the
 * app's client secret (https://developers.intercom.com/docs/webhooks/setting-up-webhooks#signed-notifications).
 * Checked on the raw bytes, before any parsing, in constant time. The header is read before the body so that a
 * request without a well-formed one is refused without reading a byte of it, and the HMAC is fed chunk by chunk as
 * the body arrives.
 */
export function signBody(body: Buffer | string, secret: string): string {
  return `sha1=${createHmac('sha1', secret).update(body).digest('hex')}`;
}

/** The 20 bytes a well-formed `X-Hub-Signature` claims, or null when the header is missing or malformed. */
export function claimedSignature(header: string | string[] | undefined): Buffer | null {
  if (typeof header !== 'string') return null;
  const m = /^sha1=([0-9a-fA-F]{40})$/.exec(header.trim());
  return m?.[1] ? Buffer.from(m[1], 'hex') : null;
}

export function startSignature(secret: string): Hmac {
  return createHmac('sha1', secret);
}

export function signatureMatches(claimed: Buffer, computed: Hmac): boolean {
  const expected = computed.digest();
  return claimed.length === expected.length && timingSafeEqual(claimed, expected);
}
