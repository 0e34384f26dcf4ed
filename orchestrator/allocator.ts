/**
 * Module allocation over the pure scheduler: the steps waiting for a module, what the scheduler sees of
 * each module, the hold-and-wait deadlock breaker (a waiting batch whose material blocks a module another
 * needs moves to a storage slot of its lane), and the watchdog of waits: a wait that lasts well past
 * when it was expected to end first has its modules re-read from the devices, then holds the batch,
 * saying what it waited for. No batch waits unseen.
 */
import type { LayoutModel, ModuleConfig } from '../config/layout.ts';
import type { Step, ScheduleModel } from '../config/schedule.ts';
import { timeOfDay, type Clock } from '../drivers/clock.ts';
import type { ModuleState } from '../config/state-model.ts';
import type { BatchJournal } from './entries.ts';
import { HoldRequired, reconcileInterval, watchdogMargin } from './command-executor.ts';
import type { BatchIdentity, MaterialGate } from './material-gate.ts';
import type { AllocationRequest, ChainLink, ModuleView, Scheduler } from './scheduler.ts';

/** What the allocator needs of a batch. */
export interface AllocatingBatch {
  identity: BatchIdentity;
  schedule: ScheduleModel;
  journal: BatchJournal;
}

export interface AllocatorHost {
  batch(batchId: string): AllocatingBatch | undefined;
  batchIds(): Iterable<string>;
  moduleState(moduleId: string): ModuleState;
  /** Why a module may not be allocated now (expired qualification, out of service), or undefined. */
  unusable(module: ModuleConfig): string | undefined;
  /** The batch's material starts (true) or stops moving to storage while it waits. */
  parking(batchId: string, moving: boolean): void;
  /** Why the batch waits, in the scheduler's words (undefined: it waits no more); shown by its step machine. */
  waiting(batchId: string, why: string | undefined): void;
}

interface PendingAllocation {
  request: AllocationRequest;
  grant: (module: string) => void;
  fail: (error: Error) => void;
  /** Idempotency key of the transfer that parks the material in storage while it waits. */
  parkKey: string;
  /** Set while (or once) the material moves to storage; a grant waits for it. */
  parking?: Promise<void>;
  /** Moves to storage that failed (a misread, say); each try has a key of its own. */
  failedParks: number;
  /** When the wait was last expected to end (clock ms), as the scheduler said. */
  expectedBy?: number;
  /** When the modules it waits for were re-read from the devices because the wait ran late. */
  refreshedAt?: number;
}

export class Allocator {
  private readonly pending = new Map<string, PendingAllocation>();
  private readonly busyUntil = new Map<string, number>();
  private readonly parkingSlots = new Set<string>();
  /** Each module's clearanceBefore for the scheduler's views, made once: a round builds every module's view. */
  private readonly clearanceOf = new Map<string, (batchId: string) => number>();

  constructor(
    private readonly layout: LayoutModel,
    private readonly gate: MaterialGate,
    private readonly scheduler: Scheduler,
    private readonly clock: Clock,
    private readonly host: AllocatorHost,
  ) {}

  /** A module of the batch's lane for the step: the one it holds already, or the scheduler's grant. */
  allocate(batch: AllocatingBatch, step: Step, avoid: string[], parkKey: string, holdDeadline: number | undefined): Promise<string> {
    const candidates = this.layout.modulesFor(batch.identity.lane, step.capability).map((m) => m.id);
    const held = candidates.find((id) => this.gate.occupant(id) === batch.identity.batchId && !avoid.includes(id));
    if (held) return Promise.resolve(held);
    return new Promise((grant, fail) => {
      this.pending.set(batch.identity.batchId, {
        request: {
          batchId: batch.identity.batchId,
          stepId: step.id,
          capability: step.capability,
          candidates,
          holdDeadline,
          waitingSince: this.clock.now(),
          avoid: [...avoid],
          durationMs: (batch.schedule.expectedDuration(step) + this.gate.handlingSeconds(candidates, batch.identity.lane)) * 1000,
          holdChain: this.holdChain(batch, step),
        },
        grant,
        fail,
        parkKey,
        failedParks: 0,
      });
      queueMicrotask(() => this.schedule());
    });
  }

  /** Ends a batch's wait with an error (an operator's hold request): its step holds. */
  interrupt(batchId: string, error: Error): boolean {
    const pending = this.pending.get(batchId);
    if (!pending) return false;
    this.pending.delete(batchId);
    pending.fail(error);
    return true;
  }

  isWaiting(batchId: string): boolean {
    return this.pending.has(batchId);
  }

  /** The batches waiting for a module among whose candidates `moduleId` is. */
  waitingFor(moduleId: string): string[] {
    return [...this.pending.values()].filter((p) => p.request.candidates.includes(moduleId)).map((p) => p.request.batchId);
  }

  /**
   * When the batch is expected to leave the module, for the scheduler: the rest of `step`, then the
   * steps after it that run on the same kind of module (the material stays where it is for those).
   */
  expectRelease(batch: AllocatingBatch, step: Step, moduleId: string, stepSecondsLeft: number): void {
    const kind = this.layout.modules.get(moduleId)!.kind;
    const steps = batch.schedule.schedule.steps;
    // The material still has to be carried out before the module is free.
    let seconds = stepSecondsLeft + this.gate.handlingSeconds([moduleId], batch.identity.lane);
    for (let i = steps.indexOf(step) + 1; i > 0 && i < steps.length && steps[i]!.capability.split('.')[0] === kind; i++) seconds += batch.schedule.expectedDuration(steps[i]!);
    this.busyUntil.set(moduleId, this.clock.now() + seconds * 1000);
  }

  /** The steps after `step` linked to it by hold times, for the scheduler's lookahead. */
  private holdChain(batch: AllocatingBatch, step: Step): ChainLink[] {
    const steps = batch.schedule.schedule.steps;
    const chain: ChainLink[] = [];
    for (let i = steps.indexOf(step); i >= 0 && i + 1 < steps.length; i++) {
      const hold = batch.schedule.maxHold(steps[i]!);
      if (hold === undefined) break;
      const next = steps[i + 1]!;
      const candidates = this.layout.modulesFor(batch.identity.lane, next.capability).map((m) => m.id);
      chain.push({ stepId: next.id, capability: next.capability, candidates, durationMs: batch.schedule.expectedDuration(next) * 1000, transferMs: this.gate.handlingSeconds(candidates, batch.identity.lane) * 1000, afterHoldMs: hold * 1000 });
    }
    return chain;
  }

  /** What the scheduler sees of each module. */
  moduleViews(): Map<string, ModuleView> {
    const views = new Map<string, ModuleView>();
    for (const module of this.layout.layout.modules) {
      views.set(module.id, {
        id: module.id,
        kind: module.kind,
        state: this.host.moduleState(module.id),
        occupiedBy: this.gate.occupant(module.id),
        busyUntil: this.gate.occupant(module.id) ? this.busyUntil.get(module.id) : this.gate.clearingUntil(module.id),
        clearanceBefore: this.clearanceFor(module.id),
        unusable: this.host.unusable(module),
      });
    }
    return views;
  }

  private clearanceFor(moduleId: string): (batchId: string) => number {
    let clearance = this.clearanceOf.get(moduleId);
    if (!clearance) this.clearanceOf.set(moduleId, (clearance = (batchId) => this.gate.clearanceBefore(moduleId, batchId)));
    return clearance;
  }

  /** One scheduling round: grants, reasons for every wait, storage moves, and the watchdog of waits. */
  schedule(): void {
    if (this.pending.size === 0) return;
    const now = this.clock.now();
    const decision = this.scheduler.decide([...this.pending.values()].map((p) => p.request), this.moduleViews(), now);
    for (const grant of decision.grants) {
      const pending = this.pending.get(grant.request.batchId)!;
      const batch = this.host.batch(grant.request.batchId)!;
      this.pending.delete(grant.request.batchId);
      this.gate.reserve(batch.identity, grant.module);
      this.host.waiting(batch.identity.batchId, undefined);
      if (pending.parking) void pending.parking.then(() => pending.grant(grant.module));
      else pending.grant(grant.module);
    }
    for (const [batchId, why] of decision.waits) {
      const batch = this.host.batch(batchId);
      const pending = this.pending.get(batchId);
      if (!batch || !pending) continue;
      this.host.waiting(batchId, why);
      pending.expectedBy = decision.expectedBy?.get(batchId);
      this.watch(batch, pending, why, now);
      this.parkIfBlocking(batchId, why);
    }
  }

  /**
   * The watchdog of a wait: past its expected end plus the margin, the modules it waits for are read
   * from the devices (a missed state change would explain it); a reconcile interval later, still
   * waiting, the batch holds with the reason, and an alarm says how long it waited.
   */
  private watch(batch: AllocatingBatch, pending: PendingAllocation, why: string, now: number): void {
    const since = pending.request.waitingSince;
    const expected = pending.expectedBy !== undefined && Number.isFinite(pending.expectedBy) ? Math.max(since, pending.expectedBy) : since;
    const late = expected + watchdogMargin((expected - since) / 1000, this.clock.timeScale) * 1000;
    if (now < late) return;
    if (pending.refreshedAt === undefined) {
      pending.refreshedAt = now;
      for (const id of pending.request.candidates) void this.gate.refreshState(id, `${batch.identity.batchId} waited past its expected time`).then(() => this.schedule());
      return;
    }
    if (now < pending.refreshedAt + reconcileInterval(this.clock)) return;
    const waited = Math.round((now - since) / 60_000);
    const message = `${pending.request.stepId} has waited ${waited} min for a module, well past when it was expected to start: ${why}`;
    batch.journal.write('alarm', { kind: 'watchdog', step: pending.request.stepId, message });
    // The material waits inside a hold time: the biology is at stake, a departure from the process.
    const deadline = pending.request.holdDeadline;
    if (deadline !== undefined) batch.journal.write('deviation', { kind: 'watchdog', step: pending.request.stepId, message: `${message}; meanwhile its hold time ${deadline <= now ? 'ran out' : `runs out at ${timeOfDay(deadline, now)}`}` });
    this.interrupt(batch.identity.batchId, new HoldRequired('watchdog', message, true));
  }

  /**
   * Hold-and-wait deadlock breaker: a batch waiting for its next module while its material sits in a
   * module another waiting batch needs (for its next step or the one after) moves to a storage slot of
   * its lane, freeing the module.
   */
  private parkIfBlocking(batchId: string, why: string): void {
    const pending = this.pending.get(batchId);
    const batch = this.host.batch(batchId);
    if (!pending || !batch || pending.parking || pending.failedParks >= 3) return;
    const module = this.gate.moduleHolding(batchId);
    if (!module) return;
    // Needed now, or right after another batch's next step (its hold time will not wait for this one to leave).
    const needed = [...this.pending.values()].some(
      (p) => p.request.batchId !== batchId && !p.request.avoid?.includes(module.id) && (p.request.candidates.includes(module.id) || !!p.request.holdChain?.[0]?.candidates.includes(module.id)),
    );
    if (!needed) return;
    const taken = new Set([...this.host.batchIds()].map((id) => this.gate.whereIs(id)).concat([...this.parkingSlots]));
    const free = this.layout.storageSlots(batch.identity.lane).filter((s) => !taken.has(s));
    // The last free slot is kept for breaking a circular wait: filled by batches that merely make way,
    // storage would leave two batches each holding the module the other needs with nowhere to go.
    const slot = free.length > 1 || this.waitsInCycle(batchId) ? free[0] : undefined;
    if (!slot) {
      const stuck = free.length === 0 ? `no storage slot of ${batch.identity.lane} is free` : `the last free storage slot of ${batch.identity.lane} is kept for breaking a circular wait`;
      this.host.waiting(batchId, `${why}; ${module.id} is needed by another batch but ${stuck}`);
      return;
    }
    this.parkingSlots.add(slot);
    this.host.parking(batchId, true);
    pending.parking = this.gate
      .transfer(batch.identity, slot, `${pending.parkKey}.${pending.failedParks + 1}`)
      .catch((error: Error) => {
        batch.journal.write('alarm', { kind: 'storage', message: `could not move the material to ${slot} while waiting: ${error.message}` });
        // Let the next scheduling round try again (a one-off misread must not leave a deadlock behind).
        pending.failedParks++;
        pending.parking = undefined;
      })
      .finally(() => {
        this.parkingSlots.delete(slot);
        this.host.parking(batchId, false);
      });
  }

  /**
   * Whether the batch waits in a circle: every module it could use is held by a waiting batch that in
   * turn waits (directly or through others) for a module held by this one. Batches already moving to
   * storage hold nothing for this purpose.
   */
  private waitsInCycle(batchId: string): boolean {
    const blockers = (id: string): string[] => {
      const pending = this.pending.get(id);
      if (!pending || pending.parking) return [];
      const usable = pending.request.candidates.filter((m) => !pending.request.avoid?.includes(m));
      const holders = usable.map((m) => this.gate.occupant(m));
      if (holders.length === 0 || holders.some((h) => h === undefined || h === id)) return [];
      return holders.filter((h): h is string => this.pending.has(h!) && !!this.gate.moduleHolding(h!));
    };
    const seen = new Set<string>();
    const stack = blockers(batchId);
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (next === batchId) return true;
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...blockers(next));
    }
    return false;
  }
}
