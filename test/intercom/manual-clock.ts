import type { LimiterClock, LimiterTimer } from '../../src/intercom/limiter.ts';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that moves only when the test says so, for the limiter (LimiterClock) and, through `onMove`, the
 * simulator's. Rate windows then open and close at the test's steps: a request is charged to the window the test put
 * both clocks in, however long a loaded machine takes to send it.
 */
export class ManualClock implements LimiterClock {
  private pending: Pending[] = [];
  private seq = 0;

  constructor(
    private ms: number,
    private readonly onMove: (ms: number) => void = () => {},
  ) {
    this.onMove(ms);
  }

  now(): number {
    return this.ms;
  }

  setTimer(fn: () => void, delayMs: number): LimiterTimer {
    const entry: Pending = { at: this.ms + Math.max(0, delayMs), seq: this.seq++, fn };
    this.pending.push(entry);
    return {
      clear: () => {
        this.pending = this.pending.filter((p) => p !== entry);
      },
      keepAlive: () => {},
    };
  }

  /**
   * Moves to `ms`, firing each timer that falls due at its own time, in order. Whatever the timers start runs after
   * this returns; the simulator's clock has moved before any of it.
   */
  advanceTo(ms: number): void {
    if (ms < this.ms) throw new Error(`ManualClock cannot go back (${ms} < ${this.ms})`);
    for (;;) {
      const due = this.pending.filter((p) => p.at <= ms).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.pending = this.pending.filter((p) => p !== due);
      this.set(due.at);
      due.fn();
    }
    this.set(ms);
  }

  advance(ms: number): void {
    this.advanceTo(this.ms + ms);
  }

  private set(ms: number): void {
    if (ms === this.ms) return;
    this.ms = ms;
    this.onMove(ms);
  }
}
