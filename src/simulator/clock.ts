// The simulator keeps its own clock so tests can cross day boundaries, rate-limit windows and
// scroll expiry without sleeping. By default it follows real time plus an offset.
export class SimClock {
  private offsetMs = 0;
  private frozenAtMs: number | null = null;

  nowMs(): number {
    return this.frozenAtMs ?? Date.now() + this.offsetMs;
  }

  nowSeconds(): number {
    return Math.floor(this.nowMs() / 1000);
  }

  advance(seconds: number): void {
    if (this.frozenAtMs !== null) this.frozenAtMs += seconds * 1000;
    else this.offsetMs += seconds * 1000;
  }

  set(unixSeconds: number): void {
    this.setMs(unixSeconds * 1000);
  }

  /** As set(), to the millisecond: for a test that steps this clock in line with a clock of its own. */
  setMs(unixMs: number): void {
    if (this.frozenAtMs !== null) this.frozenAtMs = unixMs;
    else this.offsetMs = unixMs - Date.now();
  }

  freeze(frozen: boolean): void {
    if (frozen && this.frozenAtMs === null) this.frozenAtMs = this.nowMs();
    if (!frozen && this.frozenAtMs !== null) {
      this.offsetMs = this.frozenAtMs - Date.now();
      this.frozenAtMs = null;
    }
  }

  get frozen(): boolean {
    return this.frozenAtMs !== null;
  }
}
