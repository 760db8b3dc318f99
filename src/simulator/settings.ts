// Knobs that can change while the simulator runs (PATCH /__sim/config).
export interface SimSettings {
  rateLimitPerMinute: number;
  workspaceRateLimitPerMinute: number;
  /** Length of a rate-limit window in whole seconds; Intercom's is 10. */
  rateWindowSeconds: number;
  indexingDelaySeconds: number;
  timezone: string;
  scrollIdleSeconds: number;
  companyListCeiling: number;
}
