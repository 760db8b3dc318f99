import type { Profile, RealismSettings } from './realism.ts';

// Knobs that can change while the simulator runs (PATCH /__sim/config).
export interface SimSettings extends RealismSettings {
  rateLimitPerMinute: number;
  workspaceRateLimitPerMinute: number;
  /** Length of a rate-limit window in whole seconds; Intercom's is 10. */
  rateWindowSeconds: number;
  indexingDelaySeconds: number;
  timezone: string;
  scrollIdleSeconds: number;
  companyListCeiling: number;
  /** The preset the realism settings started from; individual settings may differ from it since. */
  profile: Profile;
}
