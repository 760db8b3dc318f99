// What benchmarks read to count what the daemon spent. Control-API calls are never counted.
export interface StatsSnapshot {
  total: number;
  rate_limited: number;
  faults_injected: number;
  by_route: Record<string, Record<string, number>>;
  by_status: Record<string, number>;
}

export class Stats {
  private data: StatsSnapshot = this.empty();

  private empty(): StatsSnapshot {
    return { total: 0, rate_limited: 0, faults_injected: 0, by_route: {}, by_status: {} };
  }

  record(method: string, template: string, status: number): void {
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

  reset(): void {
    this.data = this.empty();
  }
}
