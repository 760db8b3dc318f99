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
 * Whether Intercom accepts the token and answers, without spending budget on every probe: until one `me()` call
 * succeeds it is retried at most once per `recheckMs`; afterwards the gateway's own health is enough. Not ready while
 * the token is refused (the gateway re-probes it by itself), or while Intercom has not answered for longer than
 * `unreachableAlertSeconds`. Endpoints refused for a missing permission are listed but leave the replica ready:
 * everything else keeps syncing.
 */
export function createIntercomAuthCheck(opts: {
  me: () => Promise<unknown>;
  authError: () => Error | null;
  recheckMs?: number;
  availability?: () => {
    availability: { denied: { endpoint: string; permission: string | null; since: Date }[] };
    unreachableSeconds: number;
  };
  unreachableAlertSeconds?: number;
}): () => Promise<CheckResult> {
  let verified = false;
  let last: { at: number; result: CheckResult } | null = null;
  let inFlight: Promise<CheckResult> | null = null;
  return async () => {
    if (opts.authError()) {
      // The gateway sends this GET /me only when its back-off says a re-check is due, else refuses it at once; so
      // readiness probes also bring a standby (which has no other calls to make) back once the token works.
      await opts.me().catch(() => undefined);
      const still = opts.authError();
      if (still) return { ok: false, detail: `Intercom rejected the access token: ${still.message}` };
    }
    const a = opts.availability?.();
    const threshold = opts.unreachableAlertSeconds ?? 300;
    if (a && a.unreachableSeconds > threshold) {
      return { ok: false, detail: `Intercom unreachable for ${Math.round(a.unreachableSeconds)} s (threshold ${threshold} s); pending changes wait and resume by themselves` };
    }
    if (verified) {
      const denied = a?.availability.denied ?? [];
      if (denied.length === 0) return { ok: true };
      const list = denied.map((d) => `${d.endpoint}${d.permission ? ` (needs "${d.permission}")` : ''}`);
      return { ok: true, detail: `endpoints refused for a missing permission, work needing them waits: ${list.join('; ')}` };
    }
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
