import { spawnDaemon, type DaemonProcess } from '../daemon/process-helpers.ts';

/**
 * The daemon under test: `intercom-sync run` child processes, one at a time, killed with SIGKILL and restarted
 * whenever the plan says. Output of every incarnation is kept for the failure message.
 */
export class DaemonSupervisor {
  private current: DaemonProcess | null = null;
  private readonly outputs: string[] = [];
  private generation = 0;

  constructor(private readonly env: Record<string, string>) {}

  async start(): Promise<void> {
    if (this.current?.alive()) return;
    this.current = await spawnDaemon(`daemon-${++this.generation}`, this.env);
  }

  async kill(): Promise<void> {
    const d = this.current;
    if (!d) return;
    this.current = null;
    if (d.alive()) d.child.kill('SIGKILL');
    await d.exited;
    this.outputs.push(`--- ${d.name} (SIGKILL) ---\n${d.output()}`);
  }

  /** An unexpected exit (not one of our kills) is a finding: restart, but remember it. */
  async ensureRunning(): Promise<void> {
    const d = this.current;
    if (d && !d.alive()) {
      const how = await d.exited;
      this.outputs.push(`--- ${d.name} exited by itself (${JSON.stringify(how)}) ---\n${d.output()}`);
      this.unexpectedExits.push(`${d.name}: ${JSON.stringify(how)}; last output:\n${d.output().slice(-2_000)}`);
      this.current = null;
    }
    await this.start();
  }

  readonly unexpectedExits: string[] = [];

  async stop(): Promise<void> {
    const d = this.current;
    this.current = null;
    if (!d) return;
    if (d.alive()) d.child.kill('SIGTERM');
    const timer = setTimeout(() => d.alive() && d.child.kill('SIGKILL'), 15_000);
    await d.exited;
    clearTimeout(timer);
    this.outputs.push(`--- ${d.name} (stopped) ---\n${d.output()}`);
  }

  get restarts(): number {
    return this.generation - 1;
  }

  allOutput(): string {
    return [...this.outputs, this.current ? `--- ${this.current.name} (running) ---\n${this.current.output()}` : ''].join('\n');
  }
}
