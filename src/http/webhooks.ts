import type { IncomingMessage, ServerResponse } from 'node:http';
import PQueue from 'p-queue';
import type { Logger } from 'pino';
import { within } from '../sleep.ts';
import type { Metrics } from './metrics.ts';
import { MalformedWebhookError, parseWebhook } from './webhook-payload.ts';
import { claimedSignature, signatureMatches, startSignature } from './webhook-signature.ts';
import { BodyTimeoutError, BodyTooLargeError, readBody, refuseAndClose, sendJson } from './respond.ts';
import { excerpt, TEXT_EXCERPT_CHARS } from '../log-excerpt.ts';

/**
 * POST /webhooks/intercom. A notification is verified against the client secret, parsed, and turned into a targeted
 * pull of just the entities it names, run in the background after a 202. Ids arriving while a pull runs are
 * coalesced into the next batch, so a burst of notifications costs a few pulls, not one per event. The scheduled
 * pull remains the safety net: a notification we drop (queue full, shutdown) is picked up by the next cycle.
 */
export interface TargetedPull {
  contacts(ids: string[], signal: AbortSignal): Promise<void>;
  companies(ids: string[], signal: AbortSignal): Promise<void>;
}

export interface WebhookOptions {
  /** INTERCOM_CLIENT_SECRET; without it the endpoint is disabled. */
  secret: string | undefined;
  pull: TargetedPull;
  metrics?: Metrics;
  logger: Logger;
  /** Records a rejected notification (e.g. in sync_runs); failures to record are logged, never answered. */
  onMalformed?: (reason: string) => Promise<void>;
  /** WEBHOOK_MAX_BODY_BYTES: Intercom's notifications are a few KB; anything larger is refused with 413. */
  maxBodyBytes?: number;
  /** WEBHOOK_MAX_CONCURRENT: requests being read at once; more are answered 503 without reading their body. */
  maxConcurrent?: number;
  /** WEBHOOK_BODY_TIMEOUT_SECONDS, in ms: a body not complete by then is answered 408 and the socket closed. */
  bodyTimeoutMs?: number;
  /** Ids per targeted pull. */
  batchSize?: number;
  /** Ids waiting beyond this are dropped (left to the scheduled pull). */
  maxPendingIds?: number;
}

export interface WebhookHandler {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Resolves when every accepted notification has been pulled (for tests and shutdown). */
  idle(): Promise<void>;
  /** Stops accepting; waits up to `graceMs` for queued pulls, then aborts them. Idempotent. */
  close(graceMs: number): Promise<void>;
}

/** Defaults of the WEBHOOK_* variables (README, "Webhooks"). */
export const DEFAULT_WEBHOOK_LIMITS = { maxBodyBytes: 256 * 1024, maxConcurrent: 32, bodyTimeoutMs: 10_000 } as const;

export function createWebhookHandler(opts: WebhookOptions): WebhookHandler {
  const log = opts.logger.child({ module: 'webhooks' });
  const maxBody = opts.maxBodyBytes ?? DEFAULT_WEBHOOK_LIMITS.maxBodyBytes;
  const maxConcurrent = opts.maxConcurrent ?? DEFAULT_WEBHOOK_LIMITS.maxConcurrent;
  const bodyTimeoutMs = opts.bodyTimeoutMs ?? DEFAULT_WEBHOOK_LIMITS.bodyTimeoutMs;
  let reading = 0;
  const batchSize = opts.batchSize ?? 50;
  const maxPending = opts.maxPendingIds ?? 10_000;
  const queue = new PQueue({ concurrency: 1 });
  const controller = new AbortController();
  const pending = { contact: new Set<string>(), company: new Set<string>() };
  let flushQueued = false;
  let closing = false;
  let warnedDisabled = false;
  let closed: Promise<void> | null = null;

  function enqueue(kind: 'contact' | 'company', ids: string[]): number {
    let dropped = 0;
    for (const id of ids) {
      if (pending.contact.size + pending.company.size >= maxPending) dropped += 1;
      else pending[kind].add(id);
    }
    if (!flushQueued) {
      flushQueued = true;
      void queue.add(flush);
    }
    return dropped;
  }

  async function flush(): Promise<void> {
    flushQueued = false;
    for (const kind of ['contact', 'company'] as const) {
      while (pending[kind].size > 0 && !controller.signal.aborted) {
        const batch = [...pending[kind]].slice(0, batchSize);
        for (const id of batch) pending[kind].delete(id);
        try {
          if (kind === 'contact') await opts.pull.contacts(batch, controller.signal);
          else await opts.pull.companies(batch, controller.signal);
        } catch (err) {
          log.error({ err, kind, ids: batch.length }, 'targeted pull failed; the scheduled pull will catch up');
        }
      }
    }
  }

  function answer(res: ServerResponse, status: number, body: Record<string, unknown>): void {
    sendJson(res, status, body);
  }

  return {
    async handle(req, res) {
      if (!opts.secret) {
        if (!warnedDisabled) {
          log.warn('INTERCOM_CLIENT_SECRET is not set: webhook notifications are refused');
          warnedDisabled = true;
        }
        opts.metrics?.recordWebhook('disabled');
        req.resume();
        return answer(res, 503, {
          error: 'webhooks_disabled',
          message: 'INTERCOM_CLIENT_SECRET is not set on this intercom-sync; notifications cannot be verified',
        });
      }
      // Everything up to the signature check is unauthenticated, so it must cost a bounded amount per request and
      // a bounded number of requests: the header is checked before the body is read, at most `maxConcurrent` bodies
      // are read at once, each at most `maxBody` bytes within `bodyTimeoutMs`, hashed as they arrive.
      const claimed = claimedSignature(req.headers['x-hub-signature']);
      if (!claimed) {
        opts.metrics?.recordWebhook('unauthorized');
        log.warn({ remote: req.socket.remoteAddress }, 'webhook without a well-formed X-Hub-Signature refused');
        return refuseAndClose(res, 401, { error: 'invalid_signature', message: 'X-Hub-Signature missing or malformed' });
      }
      if (reading >= maxConcurrent) {
        opts.metrics?.recordWebhook('busy');
        return refuseAndClose(res, 503, { error: 'busy', message: `more than ${maxConcurrent} notifications being received` }, {
          'retry-after': '1',
        });
      }
      reading += 1;
      const hmac = startSignature(opts.secret);
      let body: Buffer;
      try {
        body = await readBody(req, { limit: maxBody, deadlineMs: bodyTimeoutMs, onChunk: (c) => hmac.update(c) });
      } catch (err) {
        if (err instanceof BodyTooLargeError) {
          opts.metrics?.recordWebhook('too_large');
          return refuseAndClose(res, 413, { error: 'payload_too_large', message: `body exceeds ${maxBody} bytes` });
        }
        if (err instanceof BodyTimeoutError) {
          opts.metrics?.recordWebhook('timeout');
          return refuseAndClose(res, 408, { error: 'request_timeout', message: `body not received within ${bodyTimeoutMs} ms` });
        }
        // The client went away mid-body: nobody to answer.
        res.destroy();
        return;
      } finally {
        reading -= 1;
      }
      if (!signatureMatches(claimed, hmac)) {
        opts.metrics?.recordWebhook('unauthorized');
        log.warn({ remote: req.socket.remoteAddress }, 'webhook with a bad X-Hub-Signature refused');
        return answer(res, 401, { error: 'invalid_signature', message: 'X-Hub-Signature does not match' });
      }
      let targets;
      try {
        targets = parseWebhook(body);
      } catch (err) {
        if (!(err instanceof MalformedWebhookError)) throw err;
        opts.metrics?.recordWebhook('malformed');
        // The message may quote the body (a topic of any length): what is logged, recorded and answered is an excerpt.
        const reason = excerpt(err.message, TEXT_EXCERPT_CHARS);
        log.warn({ reason: excerpt(err.message) }, 'malformed webhook notification refused');
        await opts.onMalformed?.(reason).catch((e: unknown) => log.error({ err: e }, 'could not record a malformed webhook'));
        return answer(res, 400, { error: 'malformed_notification', message: reason });
      }
      if (targets.ignored) {
        opts.metrics?.recordWebhook('ignored');
        return answer(res, 200, { status: 'ignored', topic: excerpt(targets.topic) });
      }
      if (closing) {
        // Intercom retries failed deliveries; the scheduled pull catches up regardless.
        opts.metrics?.recordWebhook('dropped');
        return answer(res, 503, { error: 'shutting_down', message: 'this replica is stopping' });
      }
      const dropped = enqueue('contact', targets.contactIds) + enqueue('company', targets.companyIds);
      if (dropped > 0) {
        opts.metrics?.recordWebhook('dropped');
        log.warn({ dropped }, 'webhook queue full: leaving these ids to the scheduled pull');
      }
      opts.metrics?.recordWebhook('accepted');
      log.debug({ topic: excerpt(targets.topic), contacts: targets.contactIds.length, companies: targets.companyIds.length }, 'webhook queued');
      return answer(res, 202, {
        status: 'accepted',
        topic: excerpt(targets.topic),
        contacts: targets.contactIds.length,
        companies: targets.companyIds.length,
      });
    },
    idle: () => queue.onIdle(),
    close(graceMs) {
      return (closed ??= (async () => {
        closing = true;
        if ((await within(queue.onIdle(), graceMs)) === 'timeout') log.warn('targeted pulls still running at shutdown: aborting them');
        controller.abort(new Error('webhooks closing'));
        queue.clear();
        await within(queue.onIdle(), 5000);
      })());
    },
  };
}
