/**
 * Lane segregation, enforced in one place. The gate is the only holder of module drivers: every device
 * command, every robot transfer and every telemetry sample passes through it, so no code path can move a
 * batch's material into a module of another lane, into an occupied module, into a shared module that
 * has not been cleared since another batch, or past a scan that read the wrong barcode. Its state
 * (who holds what, where each bag is) is rebuilt from the event log after a restart.
 */
import type { LayoutModel, ModuleConfig } from '../config/layout.ts';
import type { Clock, Timer } from '../drivers/clock.ts';
import { ModuleError, type ModuleDriver, type ParameterValue, type ResultValue, type TelemetrySample } from '../drivers/module.ts';
import { CommandExecutor, HoldRequired, type CommandRequest } from './command-executor.ts';
import { DeviceLocks } from './device-locks.ts';
import type { ModuleState } from '../config/state-model.ts';
import { WORKCELL_STREAM, type EventLog, type LogEntry, type NewEntry } from './event-log.ts';
import type { EntryData, EntryType } from './entries.ts';
import { parseDuration } from '../config/units.ts';
import { estimateDuration } from '../config/catalogue.ts';

export interface BatchIdentity {
  batchId: string;
  lane: string;
  bagId: string;
}

export { HoldRequired, watchdogMargin } from './command-executor.ts';

/** How long a direct read of a module's state may take (wall ms), whatever the clock's scale. */
const READ_TIMEOUT_MS = 5000;

/** A device command on a module, for a batch (the gate checks where its material is and who holds the module). */
export interface BatchCommand extends Omit<CommandRequest, 'stream' | 'batchId'> {
  batch: BatchIdentity;
}

export class MaterialGate {
  private readonly reservedBy = new Map<string, string>();
  /** Whose material was last inside each module. */
  private readonly lastServed = new Map<string, string>();
  /** The batch after which each module was last cleared. */
  private readonly clearedAfter = new Map<string, string>();
  /** The batch whose stuck material was last taken out of each module by hand. */
  private readonly removedByHand = new Map<string, string>();
  /** Clearances in progress: module -> clock ms they end. */
  private readonly clearing = new Map<string, number>();
  private readonly location = new Map<string, string>();
  readonly executor: CommandExecutor;
  private readonly locks: DeviceLocks;
  private readonly armQueues = new Map<string, Promise<void>>();
  private readonly moduleStates = new Map<string, ModuleState>();
  private readonly telemetryBuffer: NewEntry[] = [];
  private readonly stops: Array<() => void> = [];
  private flushTimer: Timer | undefined;
  private readonly batches = new Map<string, BatchIdentity>();
  private onState: (module: string, state: ModuleState) => void = () => undefined;
  /** The batches waiting to be allocated a module (the allocator says), whose records a reconciliation of it concerns. */
  waitingFor: (moduleId: string) => string[] = () => [];
  /** Reads in a row the device did not answer, per module. */
  private readonly unanswered = new Map<string, number>();

  constructor(
    private readonly layout: LayoutModel,
    private readonly drivers: ReadonlyMap<string, ModuleDriver>,
    private readonly log: EventLog,
    private readonly clock: Clock,
  ) {
    this.executor = new CommandExecutor({
      drivers,
      clock,
      kindOf: (id) => this.layout.catalogue.kind(this.layout.modules.get(id)?.kind ?? ''),
      write: (stream, type, data) => this.writeTo(stream, type, data),
      refreshState: (id, why) => this.refreshState(id, why),
    });
    this.locks = new DeviceLocks(drivers, (stream, type, data) => this.writeTo(stream, type, data));
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
    switch (entry.type) {
      case 'module.reserved':
        this.reservedBy.set(entry.data.module, entry.stream);
        break;
      case 'module.released':
        if (this.reservedBy.get(entry.data.module) === entry.stream) this.reservedBy.delete(entry.data.module);
        break;
      case 'line-clearance.started':
        this.clearing.set(entry.data.module, entry.data.until);
        break;
      case 'line-clearance.completed':
        this.clearing.delete(entry.data.module);
        this.clearedAfter.set(entry.data.module, entry.data.after);
        break;
      case 'material.received':
        this.location.set(entry.stream, entry.data.position);
        break;
      case 'material.removed': {
        // Taken out by hand: the module (or storage slot) is free, and cleared before anyone's material enters again.
        this.location.delete(entry.stream);
        const module = this.moduleAt(entry.data.from);
        if (module && this.reservedBy.get(module.id) === entry.stream) this.reservedBy.delete(module.id);
        if (module) this.removedByHand.set(module.id, entry.stream);
        if (module) void this.locks.release(entry.stream, module.id);
        break;
      }
      case 'module.locked':
      case 'module.unlocked':
        this.locks.apply(entry);
        break;
      case 'transfer.completed': {
        this.location.set(entry.stream, entry.data.to);
        const module = this.moduleAt(entry.data.to);
        if (module) this.lastServed.set(module.id, entry.stream);
        break;
      }
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

  /** Follows every module's state and telemetry; samples go to the batch occupying the module at that moment. */
  async watchModules(onState: (module: string, state: ModuleState) => void): Promise<void> {
    this.onState = onState;
    for (const [id, driver] of this.drivers) {
      this.stops.push(await driver.watchState((state) => this.stateReported(id, state)));
      this.stops.push(await driver.watchTelemetry((sample) => this.attribute(sample)));
    }
    this.flushTimer = this.clock.poll(() => this.flush(), 100);
  }

  private stateReported(id: string, state: ModuleState): void {
    const previous = this.moduleStates.get(id);
    // A subscription re-delivers the state it had when it starts again (after a reconnect): what it
    // missed meanwhile is read from the device itself.
    if (previous === state) void this.refreshState(id, 'its state subscription started again');
    this.moduleStates.set(id, state);
    if (previous !== state) {
      const occupant = this.reservedBy.get(id);
      if (occupant) this.bufferEntry({ stream: occupant, type: 'module.state', at: this.clock.now(), data: { module: id, state, previous: previous ?? null } });
    }
    this.onState(id, state);
  }

  /**
   * A state read from the device itself. Where it differs from what the subscription told us, the device
   * is right: recorded (in the workcell's stream and the occupant's record) and followed.
   */
  reconcileState(moduleId: string, actual: ModuleState, why: string): void {
    const believed = this.moduleStates.get(moduleId);
    if (believed === actual) return;
    const data = { module: moduleId, believed: believed ?? null, actual, action: 'state corrected', message: `${moduleId} was believed ${believed ?? 'unknown'}; the device says ${actual} (${why})` };
    this.writeTo(WORKCELL_STREAM, 'module.reconciled', data);
    // In the record of every batch it concerns: the one inside, and those waiting for it.
    const occupant = this.reservedBy.get(moduleId);
    for (const batchId of new Set([...(occupant ? [occupant] : []), ...this.waitingFor(moduleId)])) this.writeTo(batchId, 'module.reconciled', data);
    this.stateReported(moduleId, actual);
  }

  /** Reads a module's state from the device and reconciles it; undefined when the device cannot be reached. */
  async refreshState(moduleId: string, why: string): Promise<ModuleState | undefined> {
    let failure = '';
    const read = async (): Promise<ModuleState | undefined> => {
      const timeout = new AbortController();
      try {
        // A device that does not answer within a few seconds is not answering (gRPC would wait for it).
        const late = this.clock.sleep(READ_TIMEOUT_MS * this.clock.timeScale, timeout.signal).then(() => Promise.reject(new Error(`no answer within ${READ_TIMEOUT_MS / 1000} s`)));
        return await Promise.race([this.drivers.get(moduleId)!.readState(), late]);
      } catch (error) {
        failure = (error as Error).message;
        return undefined;
      } finally {
        timeout.abort();
      }
    };
    const state = await read();
    if (state === undefined) {
      // A device that answers no read twice in a row is shown as offline, not as whatever it last said.
      const misses = (this.unanswered.get(moduleId) ?? 0) + 1;
      this.unanswered.set(moduleId, misses);
      if (misses >= 2 && this.moduleStates.get(moduleId) !== 'offline') this.reconcileState(moduleId, 'offline', `${why}; the device does not answer: ${failure}`);
      return undefined;
    }
    this.unanswered.delete(moduleId);
    if (state === this.moduleStates.get(moduleId)) return state;
    // A notification may simply be on its way: a difference counts once it outlasts a moment.
    await this.clock.sleep(2000 * this.clock.timeScale);
    const again = await read();
    if (again !== undefined && again === state && again !== this.moduleStates.get(moduleId)) this.reconcileState(moduleId, again, why);
    return again;
  }

  private attribute(sample: TelemetrySample): void {
    const occupant = this.reservedBy.get(sample.module);
    const stream = occupant && this.location.get(occupant) && this.moduleAt(this.location.get(occupant)!)?.id === sample.module ? occupant : WORKCELL_STREAM;
    if (stream === WORKCELL_STREAM) return; // an empty module's sensors belong to no record
    this.bufferEntry({ stream, type: 'telemetry', at: this.clock.now(), data: { module: sample.module, channel: sample.channel, value: sample.value, unit: sample.unit } });
  }

  private bufferEntry(entry: NewEntry): void {
    this.telemetryBuffer.push(entry);
    if (this.telemetryBuffer.length >= 500) this.flush();
  }

  /** Writes buffered telemetry and state changes in one transaction. */
  flush(): void {
    if (this.telemetryBuffer.length === 0) return;
    this.log.appendAll(this.telemetryBuffer.splice(0));
  }

  moduleState(id: string): ModuleState {
    return this.moduleStates.get(id) ?? 'offline';
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

  /**
   * Whether a module is cleared after `batchId`'s material left it: a shared module of a kind cleared
   * between batches always; any module, dedicated ones too, after stuck material was taken out by hand.
   */
  private owesClearanceAfter(moduleId: string, batchId: string): boolean {
    const module = this.layout.modules.get(moduleId)!;
    if (this.removedByHand.get(moduleId) === batchId) return true;
    return this.layout.catalogue.kind(module.kind)?.lineClearanceWhenShared === true && this.layout.isShared(module);
  }

  private clearanceMs(moduleId: string): number {
    const parsed = parseDuration(this.layout.modules.get(moduleId)!.lineClearance?.duration ?? 0);
    return parsed.ok ? parsed.value * 1000 : 0;
  }

  /** Line clearance still owed before a module may serve `batchId`, in ms (0 when none). */
  clearanceBefore(moduleId: string, batchId: string): number {
    const previous = this.lastServed.get(moduleId);
    if (!previous || previous === batchId || this.clearedAfter.get(moduleId) === previous || !this.owesClearanceAfter(moduleId, previous)) return 0;
    const until = this.clearing.get(moduleId);
    // Owed but of no set duration (a dedicated module after a removal by hand): still recorded before use.
    return Math.max(1, until !== undefined ? until - this.clock.now() : this.clearanceMs(moduleId));
  }

  /** When a clearance in progress on a module ends (clock ms), if one is. */
  clearingUntil(moduleId: string): number | undefined {
    return this.clearing.get(moduleId);
  }

  /**
   * Clears a shared module after a batch's material has left it (recorded in the workcell stream), so
   * that it is ready sooner for the next batch. Picks up a clearance interrupted by a restart.
   */
  async clearAfter(moduleId: string, batchId: string): Promise<void> {
    if (!this.owesClearanceAfter(moduleId, batchId) || this.clearedAfter.get(moduleId) === batchId) return;
    const module = this.layout.modules.get(moduleId)!;
    let until = this.clearing.get(moduleId);
    if (until === undefined) {
      until = this.clock.now() + this.clearanceMs(moduleId);
      this.log.append({ stream: WORKCELL_STREAM, type: 'line-clearance.started', at: this.clock.now(), data: { module: moduleId, after: batchId, procedure: module.lineClearance?.procedure ?? null, until } });
    }
    await this.clock.sleep(Math.max(0, until - this.clock.now()));
    this.log.append({ stream: WORKCELL_STREAM, type: 'line-clearance.completed', at: this.clock.now(), data: { module: moduleId, after: batchId, procedure: module.lineClearance?.procedure ?? null } });
  }

  /** Clearances a restart interrupted, to be finished. */
  interruptedClearances(): Array<{ module: string; after: string }> {
    return [...this.clearing.keys()].map((module) => ({ module, after: this.lastServed.get(module)! }));
  }

  /** Waits until a module the batch holds owes it no line clearance (starting one if none runs). */
  async clearLine(batch: BatchIdentity, moduleId: string): Promise<void> {
    if (this.clearanceBefore(moduleId, batch.batchId) === 0) return;
    this.requireReserved(batch, moduleId);
    if (!this.clearing.has(moduleId)) await this.clearAfter(moduleId, this.lastServed.get(moduleId)!);
    while (this.clearanceBefore(moduleId, batch.batchId) > 0) await this.clock.sleep(this.clearanceBefore(moduleId, batch.batchId));
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
    await this.withArm(arm.id, async () => {
      const results = await this.command({ batch, module: arm.id, capability: 'transfer', parameters: { itemId: batch.bagId, from, to }, key, stepId: 'transfer', expectedSeconds: this.transferSeconds(arm, from, to) }, { materialElsewhere: true }).catch((error: unknown) => {
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
        const previous = this.lastServed.get(target.id);
        if (previous && previous !== batch.batchId && this.owesClearanceAfter(target.id, previous)) {
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

  /** The arm carries one item at a time: its commands run one after another, in the order asked. */
  private async withArm<T>(armId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.armQueues.get(armId) ?? Promise.resolve();
    const mine = previous.then(work, work);
    this.armQueues.set(armId, mine.then(() => undefined, () => undefined));
    return mine;
  }

  /** The longest a robot of the lane takes to move material into or out of any of these modules (the layout's transfer time), s. */
  handlingSeconds(moduleIds: readonly string[], lane: string): number {
    const arms = this.layout.robotArms(lane);
    const positions = moduleIds.flatMap((id) => this.layout.positionsOf(this.layout.modules.get(id)!).slice(0, 1));
    return Math.max(0, ...positions.flatMap((position) => arms.filter((arm) => arm.reach?.positions.includes(position)).map((arm) => this.transferSeconds(arm, position, position))));
  }

  private transferSeconds(arm: ModuleConfig, from: string, to: string): number {
    const specific = arm.reach?.transferTimes?.find((t) => (t.from === from && t.to === to) || (t.from === to && t.to === from));
    const parsed = parseDuration(specific?.time ?? arm.reach?.transferTime ?? 60);
    return parsed.ok ? parsed.value : 60;
  }

  /** Scans what is at a position with a robot of the lane (identity check at intake). */
  async scan(batch: BatchIdentity, position: string, key: string): Promise<string> {
    const arm = this.layout.robotsConnecting(position, position, batch.lane)[0];
    if (!arm) throw new HoldRequired('intake', `no robot arm of ${batch.lane} reaches ${position} to scan the starting material`);
    const results = await this.withArm(arm.id, () => this.command({ batch, module: arm.id, capability: 'scan', parameters: { at: position }, key, stepId: 'intake', expectedSeconds: 5 }, { materialElsewhere: true }));
    return String(results.itemId ?? '');
  }

  /**
   * Runs a capability on a module the batch holds, with its material inside (unless the command moves or
   * scans material elsewhere: a robot): sent once per key, re-attached by its token after a restart.
   */
  async command(request: BatchCommand, options: { materialElsewhere?: boolean } = {}): Promise<Record<string, ResultValue>> {
    const { batch, module: moduleId } = request;
    if (!options.materialElsewhere) {
      this.requireReserved(batch, moduleId);
      const here = this.location.get(batch.batchId);
      if (!here || this.moduleAt(here)?.id !== moduleId) throw new HoldRequired('segregation', `${batch.batchId}'s material is not in ${moduleId}`);
    }
    const { batch: _, ...command } = request;
    return this.executor.run({ ...command, stream: batch.batchId, batchId: batch.batchId });
  }

  /** A command that moves no batch material (settle plates): recorded in the workcell stream. */
  deviceCommand(moduleId: string, capability: string, parameters: Record<string, ParameterValue>, key: string): Promise<Record<string, ResultValue>> {
    const spec = this.layout.catalogue.kind(this.layout.modules.get(moduleId)!.kind)!.capabilities[capability]!;
    return this.executor.run({ stream: WORKCELL_STREAM, module: moduleId, capability, parameters, key, stepId: capability, expectedSeconds: estimateDuration(spec, parameters) });
  }

  /** Brings a module back to idle after a failed, hung or aborted command, before anyone uses it again. */
  async recover(moduleId: string): Promise<void> {
    const driver = this.drivers.get(moduleId);
    if (!driver) return;
    const state = this.moduleState(moduleId);
    if (state === 'running' || state === 'held' || state === 'starting') await driver.abort().catch(() => undefined);
    if (['running', 'held', 'starting', 'aborting', 'aborted', 'faulted', 'stopped'].includes(state)) await driver.clear().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.locks.close();
    this.clock.clearTimeout(this.flushTimer);
    this.flush();
    for (const stop of this.stops.splice(0)) stop();
  }
}
