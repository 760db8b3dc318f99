// Intercom enforces a per-minute limit in 10-second windows: 500/min → 83 per window
// (https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting).
// Windows are aligned to the simulator clock so tests can step across them with clock control. The length is a
// setting (whole seconds, as X-RateLimit-Reset is) so limiter tests can use short windows instead of waiting 10 s.
export const WINDOW_SECONDS = 10;

export interface RateDecision {
  allowed: boolean;
  /** Per-window allowance reported in X-RateLimit-Limit (the tighter of app and workspace). */
  limit: number;
  remaining: number;
  /** Unix seconds when the current window ends. */
  reset: number;
  /** Unix seconds when the window this request was counted (or refused) in began. */
  window: number;
  /** Which budget refused the request, for the 429 message. */
  exceededLimit?: number;
}

export function perWindow(limitPerMinute: number, windowSeconds = WINDOW_SECONDS): number {
  return Math.floor((limitPerMinute * windowSeconds) / 60);
}

class WindowCounter {
  private window = -1;
  private used = 0;

  usedIn(window: number): number {
    if (window !== this.window) {
      this.window = window;
      this.used = 0;
    }
    return this.used;
  }

  add(window: number, n: number): void {
    this.usedIn(window);
    this.used += n;
  }
}

export class RateLimiter {
  private readonly app = new WindowCounter();
  private readonly workspace = new WindowCounter();

  constructor(
    /** 0 turns limits off. */
    public limitPerMinute: number,
    /** Workspace-wide budget shared with simulated foreign apps; 0 = no such budget. */
    public workspaceLimitPerMinute: number,
    public windowSeconds: number = WINDOW_SECONDS,
  ) {}

  private window(nowMs: number): number {
    return Math.floor(nowMs / (this.windowSeconds * 1000));
  }

  /** Counts the request if it fits; refused requests are not counted. */
  take(nowMs: number): RateDecision | null {
    if (this.limitPerMinute <= 0) return null;
    const w = this.window(nowMs);
    const window = w * this.windowSeconds;
    const reset = window + this.windowSeconds;
    const appLimit = perWindow(this.limitPerMinute, this.windowSeconds);
    const appLeft = appLimit - this.app.usedIn(w);
    const wsLimit = this.workspaceLimitPerMinute > 0 ? perWindow(this.workspaceLimitPerMinute, this.windowSeconds) : Infinity;
    const wsLeft = wsLimit - this.workspace.usedIn(w);
    const limit = Math.min(appLimit, wsLimit);
    if (appLeft <= 0 || wsLeft <= 0) {
      return { allowed: false, limit, remaining: 0, reset, window, exceededLimit: appLeft <= 0 ? appLimit : wsLimit };
    }
    this.app.add(w, 1);
    this.workspace.add(w, 1);
    return { allowed: true, limit, remaining: Math.max(0, Math.min(appLeft - 1, wsLeft - 1)), reset, window };
  }

  /** A foreign app spends part of the workspace budget of the current window. */
  consumeForeign(nowMs: number, count: number): { used: number; limit: number } {
    const w = this.window(nowMs);
    this.workspace.add(w, count);
    const limit = this.workspaceLimitPerMinute > 0 ? perWindow(this.workspaceLimitPerMinute, this.windowSeconds) : 0;
    return { used: this.workspace.usedIn(w), limit };
  }
}
