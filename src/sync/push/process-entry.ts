/**
 * Runs one claimed outbox entry to its end state: done (finish transaction), deferred, retried with backoff, dead,
 * or handed back because the push loop must halt. Returns the outcome for the run counts.
 */
import { IntercomAuthError } from '../../errors.ts';
import type { Outcome } from '../outcome.ts';
import { pushAssociation } from './associations.ts';
import { auditBase, type PushContext, type Step } from './context.ts';
import { DEFAULT_RETRY_CAP_MS, classify, retryDelayMs } from './failures.ts';
import type { OutboxEntry } from './ports.ts';
import { pushCompany } from './push-company.ts';
import { pushContact } from './push-contact.ts';

export type EntryResult =
  | { kind: 'done'; outcome: Outcome }
  | { kind: 'stale' }
  | { kind: 'deferred' }
  | { kind: 'retry' }
  | { kind: 'dead'; outcome: Outcome }
  | { kind: 'halt'; error: IntercomAuthError };

function decide(ctx: PushContext, entry: OutboxEntry): Promise<Step> {
  switch (entry.entityType) {
    case 'contact':
      return pushContact(ctx, entry);
    case 'company':
      return pushCompany(ctx, entry);
    case 'contact_company':
      return pushAssociation(ctx, entry);
  }
}

async function apply(ctx: PushContext, entry: OutboxEntry, step: Step): Promise<EntryResult> {
  const { store, workerId } = ctx;
  switch (step.kind) {
    case 'finish': {
      const r = await store.finish(entry, workerId, step.write);
      return r === 'stale' ? { kind: 'stale' } : { kind: 'done', outcome: step.outcome };
    }
    case 'defer':
      await store.retryLater(entry, workerId, { delayMs: step.delayMs, countAttempt: false, error: step.reason });
      return { kind: 'deferred' };
    case 'dead': {
      if (step.mappingStatus && entry.entityType !== 'contact_company') {
        await store.setMappingStatus(entry.entityType, entry.localId, step.mappingStatus.status, step.mappingStatus.reason);
      }
      await store.dead(entry, workerId, step.error, step.audit.details ?? {}, {
        ...auditBase(ctx, entry),
        action: step.audit.action,
        intercomId: step.audit.intercomId,
        externalKey: step.audit.externalKey,
        details: { error: step.error, ...step.audit.details },
      });
      ctx.log.warn({ entry: entry.id, entity: entry.entityType, localId: entry.localId, error: step.error }, 'outbox entry is dead');
      return { kind: 'dead', outcome: step.outcome };
    }
  }
}

export async function processEntry(ctx: PushContext, entry: OutboxEntry): Promise<EntryResult> {
  let step: Step;
  try {
    step = await decide(ctx, entry);
  } catch (err) {
    return fail(ctx, entry, err);
  }
  return apply(ctx, entry, step);
}

async function fail(ctx: PushContext, entry: OutboxEntry, err: unknown): Promise<EntryResult> {
  const v = classify(err);
  const log = ctx.log.child({ entry: entry.id, entity: entry.entityType, localId: entry.localId });
  if (v.kind === 'halt') {
    await ctx.store.release([entry], ctx.workerId);
    return { kind: 'halt', error: v.error };
  }
  const capMs = ctx.config.retryCapMs ?? DEFAULT_RETRY_CAP_MS;
  if (v.kind === 'denied') {
    // The gateway re-probes the endpoint on its own back-off; until then a retry is refused without a request.
    const delayMs = Math.min(capMs, 60_000);
    log.warn({ err, delayMs }, 'push waits for an Intercom permission');
    await ctx.store.retryLater(entry, ctx.workerId, { delayMs, countAttempt: false, error: v.message, details: v.details });
    return { kind: 'deferred' };
  }
  if (v.kind === 'transient' || (v.kind === 'retry' && entry.attempts + 1 < ctx.config.maxAttempts)) {
    const delayMs = retryDelayMs(entry.attempts, ctx.config.retryBaseMs ?? 2000, Math.random, capMs);
    log.warn({ err, attempt: entry.attempts + 1, delayMs }, 'push failed; retrying later');
    await ctx.store.retryLater(entry, ctx.workerId, { delayMs, countAttempt: true, error: v.message, details: v.details });
    return { kind: 'retry' };
  }
  const message = v.kind === 'retry' ? `gave up after ${entry.attempts + 1} attempts: ${v.message}` : v.message;
  const ambiguous = v.kind === 'dead' && v.ambiguous;
  return apply(ctx, entry, {
    kind: 'dead',
    outcome: v.kind === 'dead' && v.action === 'invalid' ? 'invalid' : 'failed',
    error: message,
    audit: { action: v.kind === 'dead' ? v.action : 'dead', intercomId: null, externalKey: null, details: v.details },
    ...(ambiguous ? { mappingStatus: { status: 'ambiguous' as const, reason: message } } : {}),
  });
}
