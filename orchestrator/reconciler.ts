/**
 * Module states are reconciled, not only followed: a subscription can miss a change (a dropped
 * notification, a reconnect at the wrong moment), and a device can be busy with work that is not ours.
 * Every reconcile interval each module without a command of ours is read from the device; a difference
 * is recorded and corrected (MaterialGate.reconcileState). A module that stays busy with nothing of ours
 * to explain it is reported once per episode. Commands in flight are reconciled by the CommandExecutor.
 */
import type { LayoutModel } from '../config/layout.ts';
import type { Clock } from '../drivers/clock.ts';
import type { ModuleState } from '../config/state-model.ts';
import { reconcileInterval, watchdogMargin, type CommandExecutor } from './command-executor.ts';
import { WORKCELL_STREAM, type EventLog } from './event-log.ts';
import type { MaterialGate } from './material-gate.ts';

const BUSY: ReadonlySet<ModuleState> = new Set(['running', 'starting', 'stopping', 'aborting', 'clearing', 'held']);

export class ModuleReconciler {
  private readonly stop = new AbortController();
  /** Since when (clock ms) each module has been busy with no command of ours, and whether that was reported. */
  private readonly unexplained = new Map<string, { since: number; reported: boolean }>();

  constructor(
    private readonly layout: LayoutModel,
    private readonly gate: MaterialGate,
    private readonly executor: CommandExecutor,
    private readonly log: EventLog,
    private readonly clock: Clock,
  ) {}

  /** Reads every module now (the subscriptions have just started), then once per reconcile interval. */
  start(): void {
    void (async () => {
      for (;;) {
        await this.checkAll('periodic check');
        await this.clock.sleep(reconcileInterval(this.clock), this.stop.signal);
      }
    })().catch(() => undefined);
  }

  /** Re-reads one module now (an operator's `workcell module M refresh`); the state the device gave, if it answered. */
  async refresh(moduleId: string, why: string): Promise<ModuleState | undefined> {
    return this.gate.refreshState(moduleId, why);
  }

  private async checkAll(why: string): Promise<void> {
    await Promise.all(
      this.layout.layout.modules.map(async ({ id }) => {
        if (this.executor.busy(id)) {
          this.unexplained.delete(id);
          return; // the executor asks the device while its command runs
        }
        const state = await this.gate.refreshState(id, why);
        if (this.stop.signal.aborted || state === undefined) return;
        this.watch(id, state);
      }),
    );
  }

  private watch(moduleId: string, state: ModuleState): void {
    if (!BUSY.has(state) || this.executor.busy(moduleId)) {
      this.unexplained.delete(moduleId);
      return;
    }
    const now = this.clock.now();
    const episode = this.unexplained.get(moduleId) ?? { since: now, reported: false };
    this.unexplained.set(moduleId, episode);
    if (episode.reported || now - episode.since < watchdogMargin(0, this.clock.timeScale) * 1000) return;
    episode.reported = true;
    const minutes = Math.round((now - episode.since) / 60_000);
    this.log.append({
      stream: WORKCELL_STREAM,
      type: 'module.watchdog',
      at: now,
      data: { module: moduleId, state, sinceMs: episode.since, message: `${moduleId} has been ${state} for ${minutes} min with no command of Workcell's: another client may be using it, or it is stuck; check it, or take it out of service (workcell module ${moduleId} out-of-service)` },
    });
  }

  close(): void {
    this.stop.abort();
  }
}
