import type { Rng } from './prng.ts';

export type FaultKind = 'status' | 'latency' | 'drop' | 'truncate' | 'hold';

export interface FaultRuleInput {
  /** HTTP method or '*'. */
  method?: string;
  /** Route template as listed in stats (e.g. '/contacts/{id}') or '*'. */
  path?: string;
  kind: FaultKind;
  /** For kind 'status': 429, 500, 502 or 503. */
  status?: number;
  /** For kind 'latency': delay before the request is handled. */
  latency_ms?: number;
  /** Chance per matching request (0..1); default 1. */
  probability?: number;
  /**
   * Kind 'hold' keeps the request, before it is handled, until the control API releases it (oldest first): a late
   * write that lands exactly when a test says, however slowly the test runs.
   */
  /** Fire for the next N matching requests, then remove the rule; default unlimited. */
  count?: number;
  /**
   * Handle the request first (the write is applied), then fail: the status is answered, the connection
   * dropped, the body truncated, or the answer sent only after `latency_ms`. Models a POST that timed out
   * or lost its connection after Intercom applied it: a POST is not idempotent (RFC 9110 §9.2.2), so its fate
   * after a lost answer is unknown.
   */
  after_apply?: boolean;
}

export interface FaultRule extends Required<Pick<FaultRuleInput, 'kind'>> {
  id: number;
  method: string;
  path: string;
  status: number;
  latency_ms: number;
  probability: number;
  remaining: number | null;
  after_apply: boolean;
}

const STATUSES = new Set([429, 500, 502, 503]);

export class FaultInjector {
  private rules: FaultRule[] = [];
  private nextId = 1;
  /** Requests a 'hold' rule keeps, oldest first. */
  private held: (() => void)[] = [];

  constructor(private readonly rng: Rng) {}

  add(input: FaultRuleInput): FaultRule {
    const kinds: FaultKind[] = ['status', 'latency', 'drop', 'truncate', 'hold'];
    if (!kinds.includes(input.kind)) throw new Error(`kind must be one of ${kinds.join(', ')}`);
    const status = input.status ?? 500;
    if (input.kind === 'status' && !STATUSES.has(status)) throw new Error('status must be 429, 500, 502 or 503');
    const rule: FaultRule = {
      id: this.nextId++,
      kind: input.kind,
      method: (input.method ?? '*').toUpperCase(),
      path: input.path ?? '*',
      status,
      latency_ms: input.latency_ms ?? 0,
      probability: input.probability ?? 1,
      remaining: input.count ?? null,
      after_apply: input.after_apply === true,
    };
    this.rules.push(rule);
    return rule;
  }

  /** Removes every rule and lets every held request go. */
  clear(): void {
    this.rules = [];
    this.release();
  }

  /** Resolves when the control API releases this request. */
  hold(): Promise<void> {
    return new Promise((resolve) => this.held.push(resolve));
  }

  heldCount(): number {
    return this.held.length;
  }

  /** Lets the oldest `count` held requests go (all by default); returns how many. */
  release(count = Infinity): number {
    const out = this.held.splice(0, count);
    for (const go of out) go();
    return out.length;
  }

  list(): readonly FaultRule[] {
    return this.rules;
  }

  /**
   * Picks the faults for one request; at most one terminal fault. Latency is split into what waits before
   * the request is handled and what waits after it (after_apply), before the answer goes out.
   */
  match(method: string, template: string): { latencyMs: number; latencyAfterMs: number; terminal: FaultRule | null; hold: boolean } {
    let latencyMs = 0;
    let latencyAfterMs = 0;
    let terminal: FaultRule | null = null;
    let hold = false;
    for (const rule of [...this.rules]) {
      if (rule.method !== '*' && rule.method !== method) continue;
      if (rule.path !== '*' && rule.path !== template) continue;
      if (rule.kind !== 'latency' && rule.kind !== 'hold' && terminal) continue;
      if (rule.probability < 1 && this.rng() >= rule.probability) continue;
      if (rule.remaining !== null) {
        rule.remaining -= 1;
        if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
      }
      if (rule.kind === 'latency') {
        if (rule.after_apply) latencyAfterMs += rule.latency_ms;
        else latencyMs += rule.latency_ms;
      } else if (rule.kind === 'hold') hold = true;
      else terminal = rule;
    }
    return { latencyMs, latencyAfterMs, terminal, hold };
  }
}
