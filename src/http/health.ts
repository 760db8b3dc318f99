import type { Role } from '../daemon/leader-lock.ts';
import { within } from '../sleep.ts';

/**
 * /healthz answers while the process can answer at all (liveness). /readyz says whether this replica is fit to
 * serve: the database answers, Intercom accepts our token, and the replica has settled as leader or standby.
 */
export interface CheckResult {
  ok: boolean;
  detail?: string;
}

export interface ReadinessSources {
  pingDatabase: () => Promise<void>;
  intercomAuth: () => Promise<CheckResult>;
  role: () => Role;
}

export interface Readiness {
  ready: boolean;
  role: Role;
  checks: { database: CheckResult; intercom: CheckResult; role: CheckResult };
}

export async function checkReadiness(s: ReadinessSources, timeoutMs = 2000): Promise<Readiness> {
  const [database, intercom] = await Promise.all([
    guard(async () => {
      await s.pingDatabase();
      return { ok: true };
    }, timeoutMs),
    guard(s.intercomAuth, timeoutMs),
  ]);
  const role = s.role();
  const roleCheck: CheckResult =
    role === 'leader' || role === 'standby' ? { ok: true, detail: role } : { ok: false, detail: role };
  return { ready: database.ok && intercom.ok && roleCheck.ok, role, checks: { database, intercom, role: roleCheck } };
}

async function guard(check: () => Promise<CheckResult>, timeoutMs: number): Promise<CheckResult> {
  try {
    const r = await within(check(), timeoutMs);
    return r === 'timeout' ? { ok: false, detail: `no answer within ${timeoutMs} ms` } : r;
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Whether Intercom accepts the token, without spending budget on every probe: until one `me()` call succeeds it is
 * retried at most once per `recheckMs`; afterwards the gateway's own health (it records any 401/403) is enough.
 */
export function createIntercomAuthCheck(opts: {
  me: () => Promise<unknown>;
  authError: () => Error | null;
  recheckMs?: number;
}): () => Promise<CheckResult> {
  let verified = false;
  let last: { at: number; result: CheckResult } | null = null;
  let inFlight: Promise<CheckResult> | null = null;
  return async () => {
    const authError = opts.authError();
    if (authError) return { ok: false, detail: `Intercom rejected the access token: ${authError.message}` };
    if (verified) return { ok: true };
    if (last && Date.now() - last.at < (opts.recheckMs ?? 60_000)) return last.result;
    inFlight ??= opts
      .me()
      .then(
        (): CheckResult => {
          verified = true;
          return { ok: true };
        },
        (err: unknown): CheckResult => ({
          ok: false,
          detail: `could not verify the access token: ${err instanceof Error ? err.message : String(err)}`,
        }),
      )
      .then((result) => {
        last = { at: Date.now(), result };
        inFlight = null;
        return result;
      });
    return inFlight;
  };
}
