/**
 * Follows every module's state and telemetry. A state change goes into the record of the batch that
 * holds the module; a telemetry sample into the record of the batch whose material is inside at that
 * moment (an empty module's sensors belong to no record). Where a subscription may have missed
 * something, the device itself is read, and where it differs, the device is right.
 */
import type { Clock, Timer } from '../drivers/clock.ts';
import type { ModuleDriver, TelemetrySample } from '../drivers/module.ts';
import type { ModuleState } from '../config/state-model.ts';
import { WORKCELL_STREAM, type EventLog, type NewEntry } from './event-log.ts';
import type { EntryWriter } from './entries.ts';

/** How long a direct read of a module's state may take (wall ms), whatever the clock's scale. */
const READ_TIMEOUT_MS = 5000;

export interface WatchContext {
  drivers: ReadonlyMap<string, ModuleDriver>;
  log: EventLog;
  clock: Clock;
  write: EntryWriter;
  /** The batch holding a module, if one does. */
  holder(moduleId: string): string | undefined;
  /** The batch whose material is inside a module, if any. */
  inside(moduleId: string): string | undefined;
  /** The batches waiting to be allocated a module, whose records a reconciliation of it concerns. */
  waitingFor(moduleId: string): string[];
}

export class ModuleWatch {
  private readonly states = new Map<string, ModuleState>();
  private readonly buffer: NewEntry[] = [];
  private readonly stops: Array<() => void> = [];
  private flushTimer: Timer | undefined;
  private onState: (module: string, state: ModuleState) => void = () => undefined;
  /** Reads in a row the device did not answer, per module. */
  private readonly unanswered = new Map<string, number>();

  constructor(private readonly context: WatchContext) {}

  async watch(onState: (module: string, state: ModuleState) => void): Promise<void> {
    this.onState = onState;
    for (const [id, driver] of this.context.drivers) {
      this.stops.push(await driver.watchState((state) => this.stateReported(id, state)));
      this.stops.push(await driver.watchTelemetry((sample) => this.attribute(sample)));
    }
    // In virtual time the buffer is written when it is full and before any other entry of the gate (a
    // command's completion among them), never later than that: a transaction per instant would cost more
    // than the rest of the run, and nobody watches the log live.
    if (!this.context.clock.virtual) this.flushTimer = this.context.clock.poll(() => this.flush(), 100);
  }

  state(id: string): ModuleState {
    return this.states.get(id) ?? 'offline';
  }

  private stateReported(id: string, state: ModuleState): void {
    const previous = this.states.get(id);
    // A subscription re-delivers the state it had when it starts again (after a reconnect): what it
    // missed meanwhile is read from the device itself.
    if (previous === state) void this.refresh(id, 'its state subscription started again');
    this.states.set(id, state);
    if (previous !== state) {
      const holder = this.context.holder(id);
      if (holder) this.bufferEntry({ stream: holder, type: 'module.state', at: this.context.clock.now(), data: { module: id, state, previous: previous ?? null } });
    }
    this.onState(id, state);
  }

  /**
   * A state read from the device itself. Where it differs from what the subscription told us, the device
   * is right: recorded (in the workcell's stream and the holder's record) and followed.
   */
  reconcile(moduleId: string, actual: ModuleState, why: string): void {
    const believed = this.states.get(moduleId);
    if (believed === actual) return;
    const data = { module: moduleId, believed: believed ?? null, actual, action: 'state corrected', message: `${moduleId} was believed ${believed ?? 'unknown'}; the device says ${actual} (${why})` };
    this.context.write(WORKCELL_STREAM, 'module.reconciled', data);
    // In the record of every batch it concerns: the one inside, and those waiting for it.
    const holder = this.context.holder(moduleId);
    for (const batchId of new Set([...(holder ? [holder] : []), ...this.context.waitingFor(moduleId)])) this.context.write(batchId, 'module.reconciled', data);
    this.stateReported(moduleId, actual);
  }

  /** Reads a module's state from the device and reconciles it; undefined when the device cannot be reached. */
  async refresh(moduleId: string, why: string): Promise<ModuleState | undefined> {
    const { clock } = this.context;
    const { state, failure } = await this.read(moduleId);
    if (state === undefined) {
      // A device that answers no read twice in a row is shown as offline, not as whatever it last said.
      const misses = (this.unanswered.get(moduleId) ?? 0) + 1;
      this.unanswered.set(moduleId, misses);
      if (misses >= 2 && this.states.get(moduleId) !== 'offline') this.reconcile(moduleId, 'offline', `${why}; the device does not answer: ${failure}`);
      return undefined;
    }
    this.unanswered.delete(moduleId);
    if (state === this.states.get(moduleId)) return state;
    // A notification may simply be on its way: a difference counts once it outlasts a moment.
    await clock.sleep(2000 * clock.timeScale);
    const again = (await this.read(moduleId)).state;
    if (again !== undefined && again === state && again !== this.states.get(moduleId)) this.reconcile(moduleId, again, why);
    return again;
  }

  /** One read of the device's state, or why there was none. */
  private async read(moduleId: string): Promise<{ state?: ModuleState; failure?: string }> {
    const { clock } = this.context;
    // A timer of the clock, cleared once the read settled: an abort signal for each of these reads
    // (every module, every reconcile interval) costs more than the read of an in-process device.
    let timeout: Timer | undefined;
    try {
      // A device that does not answer within a few seconds is not answering (gRPC would wait for it).
      const late = new Promise<never>((_, reject) => {
        timeout = clock.setTimeout(() => reject(new Error(`no answer within ${READ_TIMEOUT_MS / 1000} s`)), READ_TIMEOUT_MS * clock.timeScale);
      });
      return { state: await Promise.race([this.context.drivers.get(moduleId)!.readState(), late]) };
    } catch (error) {
      return { failure: (error as Error).message };
    } finally {
      clock.clearTimeout(timeout);
    }
  }

  private attribute(sample: TelemetrySample): void {
    const batchId = this.context.inside(sample.module);
    if (!batchId) return; // an empty module's sensors belong to no record
    if (!Number.isFinite(sample.value)) return; // NaN or Infinity measures nothing: no sample, rather than a made-up one
    // Its fields in sorted order: the log's canonical JSON takes the sample as it is (most entries are samples).
    this.bufferEntry({ stream: batchId, type: 'telemetry', at: this.context.clock.now(), data: { channel: sample.channel, module: sample.module, unit: sample.unit, value: sample.value } });
  }

  private bufferEntry(entry: NewEntry): void {
    this.buffer.push(entry);
    if (this.buffer.length >= 500) this.flush();
  }

  /** Writes buffered telemetry and state changes in one transaction. */
  flush(): void {
    if (this.buffer.length === 0) return;
    const entries = this.buffer.splice(0);
    try {
      this.context.log.appendAll(entries);
    } catch {
      // One entry the log refuses must not take the others with it (nor, thrown from a timer, the process):
      // each is written on its own, and what is refused is said in an alarm.
      const refused: string[] = [];
      for (const entry of entries) {
        try {
          this.context.log.append(entry);
        } catch (error) {
          refused.push(`${entry.type} of ${entry.stream}: ${(error as Error).message}`);
        }
      }
      if (refused.length === 0) return;
      try {
        this.context.log.append({ stream: WORKCELL_STREAM, type: 'alarm', at: this.context.clock.now(), data: { kind: 'orchestrator', message: `${refused.length} entries could not be written: ${refused.slice(0, 3).join('; ')}` } });
      } catch {
        // The log takes nothing more: there is no one left to tell through it.
      }
    }
  }

  close(): void {
    this.context.clock.clearTimeout(this.flushTimer);
    this.flush();
    for (const stop of this.stops.splice(0)) stop();
  }
}
