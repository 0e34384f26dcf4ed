/**
 * The line-clearance ledger of the modules, rebuilt from the log: whose material was last inside each
 * module, after which batch it was last cleared, and the clearances under way. A module owes clearance
 * after a batch when it is a shared module of a kind cleared between batches, or (any module, a lane's
 * own too) after that batch's stuck material was taken out by hand. The MaterialGate asks it before
 * letting material in; clearances are recorded in the workcell stream.
 */
import type { LayoutModel, ModuleConfig } from '../config/layout.ts';
import type { Clock } from '../drivers/clock.ts';
import { WORKCELL_STREAM, type EventLog, type LogEntry } from './event-log.ts';

export class LineClearances {
  /** Whose material was last inside each module. */
  private readonly lastServed = new Map<string, string>();
  /** The batch after which each module was last cleared. */
  private readonly clearedAfter = new Map<string, string>();
  /** The batch whose stuck material was last taken out of each module by hand. */
  private readonly removedByHand = new Map<string, string>();
  /** Clearances in progress: module -> clock ms they end. */
  private readonly clearing = new Map<string, number>();

  constructor(
    private readonly layout: LayoutModel,
    private readonly log: EventLog,
    private readonly clock: Clock,
  ) {}

  apply(entry: LogEntry): void {
    switch (entry.type) {
      case 'line-clearance.started':
        this.clearing.set(entry.data.module, entry.data.until);
        break;
      case 'line-clearance.completed':
        this.clearing.delete(entry.data.module);
        this.clearedAfter.set(entry.data.module, entry.data.after);
        break;
      case 'material.removed': {
        const module = this.moduleAt(entry.data.from);
        if (module) this.removedByHand.set(module.id, entry.stream);
        break;
      }
      case 'transfer.completed': {
        const module = this.moduleAt(entry.data.to);
        if (module) this.lastServed.set(module.id, entry.stream);
        break;
      }
      default:
        break;
    }
  }

  /** The batch whose material was last inside the module. */
  lastServedBy(moduleId: string): string | undefined {
    return this.lastServed.get(moduleId);
  }

  /** Whether the module is cleared after `batchId`'s material left it. */
  owedAfter(moduleId: string, batchId: string): boolean {
    const module = this.layout.modules.get(moduleId)!;
    if (this.removedByHand.get(moduleId) === batchId) return true;
    return this.layout.catalogue.kind(module.kind)?.lineClearanceWhenShared === true && this.layout.isShared(module);
  }

  /** Line clearance still owed before a module may serve `batchId`, in ms (0 when none). */
  owedBefore(moduleId: string, batchId: string): number {
    const previous = this.lastServed.get(moduleId);
    if (!previous || previous === batchId || this.clearedAfter.get(moduleId) === previous || !this.owedAfter(moduleId, previous)) return 0;
    const until = this.clearing.get(moduleId);
    // Owed but of no set duration (a dedicated module after a removal by hand): still recorded before use.
    return Math.max(1, until !== undefined ? until - this.clock.now() : this.durationMs(moduleId));
  }

  /** When a clearance in progress on a module ends (clock ms), if one is. */
  until(moduleId: string): number | undefined {
    return this.clearing.get(moduleId);
  }

  /** Clears a module after a batch's material has left it; picks up a clearance interrupted by a restart. */
  async clearAfter(moduleId: string, batchId: string): Promise<void> {
    if (!this.owedAfter(moduleId, batchId) || this.clearedAfter.get(moduleId) === batchId) return;
    const procedure = this.layout.modules.get(moduleId)!.lineClearance?.procedure ?? null;
    let until = this.clearing.get(moduleId);
    if (until === undefined) {
      until = this.clock.now() + this.durationMs(moduleId);
      this.log.append({ stream: WORKCELL_STREAM, type: 'line-clearance.started', at: this.clock.now(), data: { module: moduleId, after: batchId, procedure, until } });
    }
    await this.clock.sleep(Math.max(0, until - this.clock.now()));
    this.log.append({ stream: WORKCELL_STREAM, type: 'line-clearance.completed', at: this.clock.now(), data: { module: moduleId, after: batchId, procedure } });
  }

  /** Waits until the module owes `batchId` no clearance, starting one if none runs. */
  async clearFor(moduleId: string, batchId: string): Promise<void> {
    if (this.owedBefore(moduleId, batchId) === 0) return;
    if (!this.clearing.has(moduleId)) await this.clearAfter(moduleId, this.lastServed.get(moduleId)!);
    while (this.owedBefore(moduleId, batchId) > 0) await this.clock.sleep(this.owedBefore(moduleId, batchId));
  }

  /** Clearances a restart interrupted, to be finished. */
  interrupted(): Array<{ module: string; after: string }> {
    return [...this.clearing.keys()].map((module) => ({ module, after: this.lastServed.get(module)! }));
  }

  /** A module without a lineClearance has no set duration (it owes one only after a removal by hand). */
  private durationMs(moduleId: string): number {
    return this.layout.modules.get(moduleId)!.lineClearance?.durationMs ?? 0;
  }

  private moduleAt(position: string): ModuleConfig | undefined {
    return this.layout.modules.get(position.split('.')[0]!);
  }
}
