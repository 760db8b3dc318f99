/**
 * The fetch intercom-client uses. It reads the whole body before the SDK sees the response, because when a connection
 * is cut mid-body the SDK reports "no answer" and drops the status: a 2xx write that Intercom applied would then be
 * retried as if it never arrived. Here the status and headers survive and the body becomes a marker the payload
 * parser reports as truncated.
 */
export const TRUNCATED_BODY = 'intercom-sync: response body was cut off';

const NO_BODY = new Set([101, 204, 205, 304]);

export async function bufferedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const res = await fetch(input, init);
  let body: ArrayBuffer | null;
  try {
    body = await res.arrayBuffer();
  } catch (err) {
    // A timeout while reading stays a timeout.
    if (init?.signal?.aborted) throw err;
    const headers = new Headers(res.headers);
    // Plain text, so the SDK hands the marker over instead of failing to parse JSON and losing the status again.
    headers.set('content-type', 'text/plain');
    headers.delete('content-length');
    return new Response(TRUNCATED_BODY, { status: res.status, statusText: res.statusText, headers });
  }
  return new Response(NO_BODY.has(res.status) || body.byteLength === 0 ? null : body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}
