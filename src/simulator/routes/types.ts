import type { SimulatorState } from '../state.ts';

export interface ApiContext {
  state: SimulatorState;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  nowMs: number;
}

export interface ApiResult {
  status?: number;
  body: unknown;
}

export type ApiHandler = (ctx: ApiContext) => ApiResult;

export function bodyObject(body: unknown): Record<string, unknown> {
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}
