import { hostname } from 'node:os';
import type { WorkerHost } from '../sync/push/index.ts';

/**
 * This process as the push engine sees it: the host and pid that name its worker, and a liveness probe for other
 * pids on the same host. The OS lives here so sync/ stays free of node:os and process.
 */
export function processHost(): WorkerHost {
  return {
    name: hostname(),
    pid: process.pid,
    isRunning(pid) {
      try {
        // Signal 0 checks existence without delivering anything: https://nodejs.org/api/process.html#processkillpid-signal
        process.kill(pid, 0);
        return true;
      } catch (err) {
        // EPERM: the process exists under another user. Only ESRCH proves it is gone.
        return (err as NodeJS.ErrnoException).code !== 'ESRCH';
      }
    },
  };
}
