/**
 * Lane segregation, enforced in one place. The gate is the only holder of module drivers: every device
 * command, every robot transfer and every telemetry sample passes through it, so no code path can move a
 * batch's material into a module of another lane, into an occupied module, into a shared module that
 * has not been cleared since another batch, or past a scan that read the wrong barcode. Its state
 * (who holds what, where each bag is) is rebuilt from the event log after a restart. Below it, the
 * command executor sends each command once and watches it; beside it, the line-clearance ledger
 * (line-clearance.ts) and the following of states and telemetry (module-watch.ts).
 */
import type { LayoutModel, ModuleConfig } from '../config/layout.ts';
import type { Clock } from '../drivers/clock.ts';
import type { IdSource } from '../drivers/ids.ts';
import { ModuleError, type ModuleDriver, type ParameterValue, type ResultValue } from '../drivers/module.ts';
import { CommandExecutor, HoldRequired, type CommandRequest } from './command-executor.ts';
import { DeviceLocks } from './device-locks.ts';
import type { ModuleState } from '../config/state-model.ts';
import { WORKCELL_STREAM, type EventLog, type LogEntry } from './event-log.ts';
import type { EntryData, EntryType } from './entries.ts';
import { estimateDuration } from '../config/catalogue.ts';
import { LineClearances } from './line-clearance.ts';
import { ModuleWatch } from './module-watch.ts';
import { RobotArms } from './robot-arms.ts';

export interface BatchIdentity {
  batchId: string;
  lane: string;
  bagId: string;
}

export { HoldRequired, watchdogMargin } from './command-executor.ts';

/** A device command on a module, for a batch (the gate checks where its material is and who holds the module). */
export interface BatchCommand extends Omit<CommandRequest, 'stream' | 'batchId'> {
  batch: BatchIdentity;
}

export class MaterialGate {
  /** Who holds each module. */
  private readonly reservedBy = new Map<string, string>();
  /** Where each batch's material is: a module position or a workcell position. */
  private readonly location = new Map<string, string>();
  readonly executor: CommandExecutor;
  private readonly locks: DeviceLocks;
  private readonly clearances: LineClearances;
  private readonly watch: ModuleWatch;
  private readonly arms: RobotArms;
  private readonly batches = new Map<string, BatchIdentity>();
  /** The batches waiting to be allocated a module (the allocator says), whose records a reconciliation of it concerns. */
  waitingFor: (moduleId: string) => string[] = () => [];

  constructor(
    private readonly layout: LayoutModel,
    drivers: ReadonlyMap<string, ModuleDriver>,
    private readonly log: EventLog,
    private readonly clock: Clock,
    /** Where lock identifiers come from (seeded in a digital twin, for repeatable records). */
    ids?: IdSource,
  ) {
    this.executor = new CommandExecutor({
      drivers,
      clock,
      kindOf: (id) => this.layout.catalogue.kind(this.layout.modules.get(id)?.kind ?? ''),
      write: (stream, type, data) => this.writeTo(stream, type, data),
      refreshState: (id, why) => this.refreshState(id, why),
    });
    this.locks = new DeviceLocks(drivers, (stream, type, data) => this.writeTo(stream, type, data), ids);
    this.clearances = new LineClearances(layout, log, clock);
    this.arms = new RobotArms(layout);
    this.watch = new ModuleWatch({
      drivers,
      log,
      clock,
      write: (stream, type, data) => this.writeTo(stream, type, data),
      holder: (id) => this.reservedBy.get(id),
      inside: (id) => {
        const holder = this.reservedBy.get(id);
        return holder && this.moduleHolding(holder)?.id === id ? holder : undefined;
      },
      waitingFor: (id) => this.waitingFor(id),
    });
    log.subscribe((entry) => this.apply(entry));
  }

  /**
   * Rebuilds the gate's state from the log (after a restart): occupancy, locations, clearances, commands.
   * The whole log is applied in order, entries already seen live included: every effect of an entry
   * sets state, so applying it again in its place leaves the state the log describes.
   */
  replay(entries: readonly LogEntry[]): void {
    for (const entry of entries) this.apply(entry);
  }

  /** Removals recorded by another process (`workcell remove`) while this one runs: each module's clearance starts. */
  applyRemovals(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      if (entry.type !== 'material.removed') continue;
      this.apply(entry);
      const module = this.moduleAt(entry.data.from);
      if (module) void this.clearAfter(module.id, entry.stream).catch(() => undefined);
    }
  }

  register(batch: BatchIdentity): void {
    this.batches.set(batch.batchId, batch);
  }

  private apply(entry: LogEntry): void {
    this.clearances.apply(entry);
    switch (entry.type) {
      case 'module.reserved':
        this.reservedBy.set(entry.data.module, entry.stream);
        break;
      case 'module.released':
        if (this.reservedBy.get(entry.data.module) === entry.stream) this.reservedBy.delete(entry.data.module);
        break;
      case 'material.received':
        this.location.set(entry.stream, entry.data.position);
        break;
      case 'material.removed': {
        // Taken out by hand: the module (or storage slot) is free, and cleared before anyone's material enters again.
        this.location.delete(entry.stream);
        const module = this.moduleAt(entry.data.from);
        if (module && this.reservedBy.get(module.id) === entry.stream) this.reservedBy.delete(module.id);
        if (module) void this.locks.release(entry.stream, module.id);
        break;
      }
      case 'module.locked':
      case 'module.unlocked':
        this.locks.apply(entry);
        break;
      case 'transfer.completed':
        this.location.set(entry.stream, entry.data.to);
        break;
      case 'command.issued':
      case 'command.accepted':
      case 'command.completed':
      case 'command.failed':
        this.executor.apply(entry);
        break;
      default:
        break;
    }
  }

  /** Follows every module's state and telemetry; samples go to the batch whose material is inside at that moment. */
  watchModules(onState: (module: string, state: ModuleState) => void): Promise<void> {
    return this.watch.watch(onState);
  }

  /** A state read from the device itself: where it differs from what the subscription said, the device is right. */
  reconcileState(moduleId: string, actual: ModuleState, why: string): void {
    this.watch.reconcile(moduleId, actual, why);
  }

  /** Reads a module's state from the device and reconciles it; undefined when the device cannot be reached. */
  refreshState(moduleId: string, why: string): Promise<ModuleState | undefined> {
    return this.watch.refresh(moduleId, why);
  }

  /** Writes buffered telemetry and state changes in one transaction. */
  flush(): void {
    this.watch.flush();
  }

  moduleState(id: string): ModuleState {
    return this.watch.state(id);
  }

  occupant(moduleId: string): string | undefined {
    return this.reservedBy.get(moduleId);
  }

  whereIs(batchId: string): string | undefined {
    return this.location.get(batchId);
  }

  /** The module the batch's material is in, if it is in one (not at a workcell position). */
  moduleHolding(batchId: string): ModuleConfig | undefined {
    const here = this.location.get(batchId);
    return here ? this.moduleAt(here) : undefined;
  }

  private moduleAt(position: string): ModuleConfig | undefined {
    return this.layout.modules.get(position.split('.')[0]!);
  }

  private write<T extends EntryType>(batch: BatchIdentity, type: T, data: EntryData<T>): LogEntry<T> {
    return this.writeTo(batch.batchId, type, data);
  }

  private writeTo<T extends EntryType>(stream: string, type: T, data: EntryData<T>): LogEntry<T> {
    this.flush(); // telemetry received before this entry stays before it
    return this.log.append({ stream, type, at: this.clock.now(), data });
  }

  /** Line clearance still owed before a module may serve `batchId`, in ms (0 when none). */
  clearanceBefore(moduleId: string, batchId: string): number {
    return this.clearances.owedBefore(moduleId, batchId);
  }

  /** When a clearance in progress on a module ends (clock ms), if one is. */
  clearingUntil(moduleId: string): number | undefined {
    return this.clearances.until(moduleId);
  }

  /**
   * Clears a shared module after a batch's material has left it (recorded in the workcell stream), so
   * that it is ready sooner for the next batch. Picks up a clearance interrupted by a restart.
   */
  clearAfter(moduleId: string, batchId: string): Promise<void> {
    return this.clearances.clearAfter(moduleId, batchId);
  }

  /** Clearances a restart interrupted, to be finished. */
  interruptedClearances(): Array<{ module: string; after: string }> {
    return this.clearances.interrupted();
  }

  /** Waits until a module the batch holds owes it no line clearance (starting one if none runs). */
  async clearLine(batch: BatchIdentity, moduleId: string): Promise<void> {
    if (this.clearanceBefore(moduleId, batch.batchId) === 0) return;
    this.requireReserved(batch, moduleId);
    await this.clearances.clearFor(moduleId, batch.batchId);
  }

  /** Allocates a module to a batch: only a module of its lane, and only a free one. */
  reserve(batch: BatchIdentity, moduleId: string): void {
    if (this.reservedBy.get(moduleId) === batch.batchId) return;
    const module = this.layout.modules.get(moduleId);
    if (!module) throw new HoldRequired('segregation', `no module ${moduleId} in the layout`);
    if (!this.layout.lanesOf(module).includes(batch.lane)) throw new HoldRequired('segregation', `${moduleId} does not serve ${batch.lane}`);
    const holder = this.reservedBy.get(moduleId);
    if (holder) throw new HoldRequired('segregation', `${moduleId} is held by ${holder}`);
    this.write(batch, 'module.reserved', { module: moduleId, lane: batch.lane });
  }

  private requireReserved(batch: BatchIdentity, moduleId: string): void {
    if (this.reservedBy.get(moduleId) !== batch.batchId) throw new HoldRequired('segregation', `${moduleId} is not allocated to ${batch.batchId}`);
  }

  /** Releases a module the batch holds but whose material has left it (or never entered). */
  release(batch: BatchIdentity, moduleId: string): void {
    if (this.reservedBy.get(moduleId) !== batch.batchId) return;
    const here = this.location.get(batch.batchId);
    if (here && this.moduleAt(here)?.id === moduleId) throw new HoldRequired('segregation', `${batch.batchId}'s material is still in ${moduleId}`);
    this.write(batch, 'module.released', { module: moduleId });
    void this.locks.release(batch.batchId, moduleId);
  }

  /** After a restart: the locks the log says batches hold are taken over. */
  relock(): void {
    this.locks.relockAll((batchId, moduleId) => this.reservedBy.get(moduleId) === batchId);
  }

  /** Releases every module the batch holds without its material inside (after a skip, an abort, the end). */
  releaseEmpty(batch: BatchIdentity): void {
    const here = this.location.get(batch.batchId);
    for (const [moduleId, holder] of [...this.reservedBy]) {
      if (holder === batch.batchId && !(here && this.moduleAt(here)?.id === moduleId)) this.release(batch, moduleId);
    }
  }

  /** Records that the batch's starting material is at an intake position, after scanning it there. */
  received(batch: BatchIdentity, position: string, scanned: string): void {
    if (scanned !== batch.bagId) {
      this.write(batch, 'deviation', { kind: 'scan-mismatch', message: `expected ${batch.bagId} at ${position}, scanned '${scanned}'` });
      throw new HoldRequired('scan-mismatch', `the bag at ${position} scans as '${scanned}', not ${batch.bagId}`);
    }
    this.write(batch, 'material.received', { bagId: batch.bagId, position, scanned });
  }

  /**
   * Moves the batch's material to `to` (a module position or a workcell position) with a robot arm of its
   * lane, one item at a time per arm, scanning at pick and place.
   */
  async transfer(batch: BatchIdentity, to: string, key: string): Promise<void> {
    const from = this.location.get(batch.batchId);
    if (!from) throw new HoldRequired('segregation', `where ${batch.batchId}'s material is, is not known`);
    if (from === to) return;
    const target = this.moduleAt(to);
    if (target) {
      this.requireReserved(batch, target.id);
      if (this.clearanceBefore(target.id, batch.batchId) > 0) throw new HoldRequired('segregation', `${target.id} needs line clearance before ${batch.batchId}'s material may enter`);
      // Locked for the batch before its material enters: no other client may run the device meanwhile.
      await this.locks.lockFor(batch.batchId, target.id).catch((error: Error) => {
        throw new HoldRequired('segregation', `${target.id} could not be locked for ${batch.batchId}, so its material stays out: ${error.message}`, true);
      });
    } else {
      const position = this.layout.workcellPositionOf(to);
      if (!position || (position.lanes !== undefined && position.lanes !== 'all' && !position.lanes.includes(batch.lane))) throw new HoldRequired('segregation', `${to} is not a position of ${batch.lane}`);
    }
    const source = this.moduleAt(from);
    const arms = this.layout.robotsConnecting(source?.id ?? from, target?.id ?? to, batch.lane);
    const arm = arms[0];
    if (!arm) throw new HoldRequired('segregation', `no robot arm of ${batch.lane} reaches both ${from} and ${to}`);
    await this.arms.queue(arm.id, async () => {
      const results = await this.armCommand(batch, arm, { capability: 'transfer', parameters: { itemId: batch.bagId, from, to }, key, stepId: 'transfer', expectedSeconds: this.arms.transferSeconds(arm, from, to) }).catch((error: unknown) => {
        if (error instanceof ModuleError && error.code === 'WrongItem') {
          this.write(batch, 'deviation', { kind: 'scan-mismatch', message: `${arm.id} refused to move ${batch.bagId} from ${from}: ${error.message}`, arm: arm.id, from, to });
          throw new HoldRequired('scan-mismatch', `${arm.id} did not find ${batch.bagId} at ${from}: ${error.message}`);
        }
        throw error;
      });
      const scans = { scannedAtPick: String(results.scannedAtPick ?? ''), scannedAtPlace: String(results.scannedAtPlace ?? '') };
      if (scans.scannedAtPick !== batch.bagId || scans.scannedAtPlace !== batch.bagId) {
        this.write(batch, 'deviation', { kind: 'scan-mismatch', message: `${arm.id} moved an item scanned as '${scans.scannedAtPick}' / '${scans.scannedAtPlace}', expected ${batch.bagId}`, arm: arm.id, from, to });
        throw new HoldRequired('scan-mismatch', `${arm.id} scanned '${scans.scannedAtPick}' at ${from}, expected ${batch.bagId}`);
      }
      if (target) {
        const previous = this.clearances.lastServedBy(target.id);
        if (previous && previous !== batch.batchId && this.clearances.owedAfter(target.id, previous)) {
          this.write(batch, 'line-clearance.verified', { module: target.id, procedure: target.lineClearance?.procedure ?? null, previousBatch: previous });
        }
      }
      this.write(batch, 'transfer.completed', { arm: arm.id, from, to, itemId: batch.bagId, ...scans });
      if (source && source.id !== target?.id) {
        this.release(batch, source.id);
        void this.clearAfter(source.id, batch.batchId).catch(() => undefined);
      }
    });
  }

  /** The longest a robot of the lane takes to move material into or out of any of these modules (the layout's transfer time), s. */
  handlingSeconds(moduleIds: readonly string[], lane: string): number {
    return this.arms.handlingSeconds(moduleIds, lane);
  }

  /** Scans what is at a position with a robot of the lane (identity check at intake). */
  async scan(batch: BatchIdentity, position: string, key: string): Promise<string> {
    const arm = this.layout.robotsConnecting(position, position, batch.lane)[0];
    if (!arm) throw new HoldRequired('intake', `no robot arm of ${batch.lane} reaches ${position} to scan the starting material`);
    const results = await this.arms.queue(arm.id, () => this.armCommand(batch, arm, { capability: 'scan', parameters: { at: position }, key, stepId: 'intake', expectedSeconds: 5 }));
    return String(results.itemId ?? '');
  }

  /**
   * A robot arm's command for a batch: it moves or scans the batch's material between places, so it is
   * the batch's (recorded in its stream) without the batch holding the arm. Where the material may go is
   * checked by transfer and scan, the only callers, inside the arm's queue.
   */
  private armCommand(batch: BatchIdentity, arm: ModuleConfig, command: Pick<CommandRequest, 'capability' | 'parameters' | 'key' | 'stepId' | 'expectedSeconds'>): Promise<Record<string, ResultValue>> {
    if (!this.layout.robotArms(batch.lane).some((a) => a.id === arm.id)) throw new HoldRequired('segregation', `${arm.id} is not a robot arm of ${batch.lane}`);
    return this.executor.run({ ...command, module: arm.id, stream: batch.batchId, batchId: batch.batchId });
  }

  /**
   * Runs a capability on a module the batch holds, with its material inside: sent once per key,
   * re-attached by its token after a restart.
   */
  async command(request: BatchCommand): Promise<Record<string, ResultValue>> {
    const { batch, module: moduleId } = request;
    this.requireReserved(batch, moduleId);
    const here = this.location.get(batch.batchId);
    if (!here || this.moduleAt(here)?.id !== moduleId) throw new HoldRequired('segregation', `${batch.batchId}'s material is not in ${moduleId}`);
    const { batch: _, ...command } = request;
    return this.executor.run({ ...command, stream: batch.batchId, batchId: batch.batchId });
  }

  /**
   * A command for the workcell itself, for no batch (settle plates): recorded in the workcell stream. It
   * never runs on a module a batch holds, nor on a robot arm (whose commands move batch material).
   */
  async workcellCommand(moduleId: string, capability: string, parameters: Record<string, ParameterValue>, key: string): Promise<Record<string, ResultValue>> {
    const module = this.layout.modules.get(moduleId);
    const spec = module && this.layout.catalogue.kind(module.kind)?.capabilities[capability];
    if (!module || !spec) throw new HoldRequired('segregation', `no module ${moduleId} with ${capability} in the layout`);
    const holder = this.reservedBy.get(moduleId);
    if (holder) throw new HoldRequired('segregation', `${moduleId} is held by ${holder}: a command for no batch does not run on it`);
    if (module.kind === 'robot-arm') throw new HoldRequired('segregation', `${moduleId} is a robot arm: it moves material for a batch, by transfer or scan`);
    return this.executor.run({ stream: WORKCELL_STREAM, module: moduleId, capability, parameters, key, stepId: capability, expectedSeconds: estimateDuration(spec, parameters) });
  }

  /** Brings a module back to idle after a failed, hung or aborted command, before anyone uses it again. */
  recover(moduleId: string): Promise<void> {
    return this.executor.reset(moduleId, this.moduleState(moduleId));
  }

  async close(): Promise<void> {
    this.locks.close();
    this.watch.close();
  }
}
