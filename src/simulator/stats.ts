// What benchmarks read to count what the daemon spent. Control-API calls are never counted.
export interface StatsSnapshot {
  total: number;
  rate_limited: number;
  faults_injected: number;
  by_route: Record<string, Record<string, number>>;
  by_status: Record<string, number>;
}

/**
 * One answer, as the simulator counted it. Tests judge the rate limiter by the window Intercom (here the simulator)
 * charged each request to, which a busy client cannot know from its own send times.
 */
export interface RequestLogEntry {
  /** The X-Request-Id of the answer; null for an edge proxy's answer, which carries none. */
  request_id: string | null;
  method: string;
  /** Route template, as in by_route. */
  path: string;
  /** 0 = dropped connection. */
  status: number;
  /** Unix seconds at which the rate window the request was counted (or refused) in began; null when no limit applied. */
  rate_window: number | null;
}

/** The newest answers kept; enough for any test, bounded for long benchmark runs. */
const REQUEST_LOG_SIZE = 10_000;

export class Stats {
  private data: StatsSnapshot = this.empty();
  private log: RequestLogEntry[] = [];

  private empty(): StatsSnapshot {
    return { total: 0, rate_limited: 0, faults_injected: 0, by_route: {}, by_status: {} };
  }

  record(method: string, template: string, status: number, seen: { requestId: string | null; rateWindow: number | null }): void {
    this.log.push({ request_id: seen.requestId, method, path: template, status, rate_window: seen.rateWindow });
    if (this.log.length > REQUEST_LOG_SIZE) this.log.splice(0, this.log.length - REQUEST_LOG_SIZE);
    const key = `${method} ${template}`;
    const route = (this.data.by_route[key] ??= {});
    route[status] = (route[status] ?? 0) + 1;
    this.data.by_status[status] = (this.data.by_status[status] ?? 0) + 1;
    this.data.total += 1;
    if (status === 429) this.data.rate_limited += 1;
  }

  faultInjected(): void {
    this.data.faults_injected += 1;
  }

  snapshot(): StatsSnapshot {
    return structuredClone(this.data);
  }

  /** The newest answers, oldest first. */
  requests(): RequestLogEntry[] {
    return this.log.map((e) => ({ ...e }));
  }

  reset(): void {
    this.data = this.empty();
    this.log = [];
  }
}
