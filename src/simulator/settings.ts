// Knobs that can change while the simulator runs (PATCH /__sim/config).
export interface SimSettings {
  rateLimitPerMinute: number;
  workspaceRateLimitPerMinute: number;
  indexingDelaySeconds: number;
  timezone: string;
  scrollIdleSeconds: number;
  companyListCeiling: number;
}
