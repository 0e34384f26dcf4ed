/**
 * The orchestrator: runs many patient batches at once through a workcell's modules. Each batch is an
 * XState actor derived from its schedule; device work goes through the MaterialGate (lane segregation),
 * module allocation through the Allocator over a pluggable Scheduler, and every fact into the
 * hash-chained event log, from which a restarted orchestrator picks every unfinished batch up where it was.
 */
import { createActor, type AnyActorRef, type InspectionEvent, type Observer } from 'xstate';
import type { LayoutModel } from '../config/layout.ts';
import type { ScheduleModel } from '../config/schedule.ts';
import { wallNow, type Clock, type Timer } from '../drivers/clock.ts';
import type { IdSource } from '../drivers/ids.ts';
import type { ModuleState } from '../config/state-model.ts';
import type { ModuleDriver } from '../drivers/module.ts';
import { WORKCELL_STREAM, type EventLog, type LogEntry } from './event-log.ts';
import { OPERATORS_STREAM } from './signatures.ts';
import type { BatchSpec } from './batch-spec.ts';
import { BatchJournal, type BatchStarted, type EntryType } from './entries.ts';
import { HoldRequired } from './command-executor.ts';
import { MaterialGate, type BatchIdentity } from './material-gate.ts';
import { DeadlineFirstScheduler, type ModuleView, type Scheduler } from './scheduler.ts';
import { batchMachine, currentStep, moduleEvent, moduleMachine, type BatchPosition, type ResumePoint } from './batch-machine.ts';
import { EnvironmentalMonitoring } from './environmental-monitoring.ts';
import { Allocator } from './allocator.ts';
import { HoldTimes } from './hold-times.ts';
import { ModuleReconciler } from './reconciler.ts';
import { heldBy, StepRunner, tellStep, type ActiveBatch } from './step-runner.ts';
import { contentHash, positionOf, resumePoint, scheduleFromText, type ScheduleSnapshot } from './batch-state.ts';
import { startRequestedBatch } from './batch-requests.ts';
import { applyServiceEntry, type OutOfService } from './operator-actions.ts';
import { DatabaseLease } from './database-lease.ts';
import { BatchHolds } from './batch-holds.ts';
import { Waiters } from './waiters.ts';
import { batchStatus, unusable, type WorkcellStatus } from './status-view.ts';

export { contentHash, openHold, pendingHold, positionFromLog, scheduleFromText, type ScheduleSnapshot } from './batch-state.ts';
export { recordRemoval, resolveHold } from './operator-actions.ts';
export type { BatchPhase, BatchStatus } from './step-runner.ts';
export type { ModuleStatus, WorkcellStatus } from './status-view.ts';

export type { BatchSpec } from './batch-spec.ts';

export interface OrchestratorOptions {
  layout: LayoutModel;
  layoutFile: string;
  /** SHA-256 of the layout file as loaded, recorded with each batch. */
  layoutHash?: string;
  log: EventLog;
  drivers: ReadonlyMap<string, ModuleDriver>;
  clock: Clock;
  /** Where lock identifiers come from: random UUIDs by default, a seeded source in a digital twin. */
  ids?: IdSource;
  scheduler?: Scheduler;
  /** Puts starting material at an intake position (in-process simulation); without it, an operator does. */
  deliver?: (bagId: string, position: string) => void | Promise<void>;
  /** XState inspection (e.g. @statelyai/inspect). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Identifies this run in plate ids. */
  runId?: string;
  seed?: number;
  /** The lease on the log's database, taken by the caller (database-lease.ts); without it, start() takes one and stop() gives it back. */
  lease?: DatabaseLease;
}

/**
 * Entries other processes write for a running orchestrator to act on (`workcell resolve`, `hold`,
 * `remove`, `module`): delivered by the log's watcher (log-watcher.ts), from the start of the log when
 * this process starts.
 */
const FROM_OTHER_PROCESSES: EntryType[] = ['hold.resolved', 'hold.requested', 'material.removed', 'module.out-of-service', 'module.in-service', 'module.refresh-requested', 'batch.requested'];

/** Scheduling runs again this often (real ms), besides whenever a module or batch changes. */
const TICK_MS = 100;
/**
 * The status view is rewritten at most this often (wall ms): it is for people, so it keeps their pace
 * whatever the clock's (in virtual time the tick runs at every instant anything happened).
 */
const STATUS_EVERY_MS = 300;

export class Orchestrator {
  readonly gate: MaterialGate;
  readonly em: EnvironmentalMonitoring;
  private readonly allocator: Allocator;
  private readonly holdTimes: HoldTimes;
  private readonly reconciler: ModuleReconciler;
  private readonly steps: StepRunner;
  private readonly holds: BatchHolds;
  private readonly batches = new Map<string, ActiveBatch>();
  private readonly moduleActors = new Map<string, AnyActorRef>();
  private readonly waiters = new Waiters();
  private readonly outOfService = new Map<string, OutOfService>();
  private ticker: Timer | undefined;
  private stopWatching: (() => void) | undefined;
  private statusWrittenAt = 0;
  private stopped = false;
  private simulatedModules: string[] = [];
  /** Another process took the database's lease over: this one must write nothing more, even after stopping. */
  private leaseLost = false;
  private ownLease: DatabaseLease | undefined;

  constructor(private readonly options: OrchestratorOptions) {
    this.gate = new MaterialGate(options.layout, options.drivers, options.log, options.clock, options.ids);
    this.em = new EnvironmentalMonitoring(options.layout, this.gate, options.log, options.clock, options.runId ?? 'R1');
    this.holdTimes = new HoldTimes(options.clock);
    this.allocator = new Allocator(options.layout, this.gate, options.scheduler ?? new DeadlineFirstScheduler(), options.clock, {
      batch: (id) => this.batches.get(id),
      batchIds: () => this.batches.keys(),
      moduleState: (id) => this.moduleState(id),
      unusable: (module) => unusable(module, this.outOfService, this.clock.now()),
      parking: (batchId, moving) => {
        const actor = this.batches.get(batchId)?.actor;
        if (actor) currentStep(actor.getSnapshot())?.send({ type: moving ? 'parking.started' : 'parking.ended' });
      },
      waiting: (batchId, why) => {
        const batch = this.batches.get(batchId);
        if (batch) tellStep(batch, { type: 'note', note: why });
      },
    });
    this.gate.waitingFor = (moduleId) => this.allocator.waitingFor(moduleId);
    this.reconciler = new ModuleReconciler(options.layout, this.gate, this.gate.executor, options.log, options.clock);
    this.steps = new StepRunner({
      layout: options.layout,
      gate: this.gate,
      em: this.em,
      allocator: this.allocator,
      holdTimes: this.holdTimes,
      clock: options.clock,
      batches: () => this.batches.values(),
      waitUntil: (predicate) => this.waiters.until(predicate),
      deliver: options.deliver,
    });
    this.holds = new BatchHolds({ gate: this.gate, drivers: options.drivers });
    options.log.subscribe((entry) => this.observe(entry));
  }

  private get clock(): Clock {
    return this.options.clock;
  }

  private get layout(): LayoutModel {
    return this.options.layout;
  }

  /** Connects module actors to their drivers and starts the scheduling loop. */
  async start(): Promise<void> {
    // One orchestrator per database: nothing is sent to a device without the lease on the log.
    if (!this.options.lease) this.ownLease = DatabaseLease.acquire(this.options.log.file, { what: 'start an orchestrator' });
    else if (!this.options.lease.isHeldOn(this.options.log.file)) throw new Error(`this process holds no lease on ${this.options.log.file}; one orchestrator per database`);
    // Nothing is written (so no command is sent: its key is logged first) once another process took the lease over.
    const lease = (this.options.lease ?? this.ownLease)!;
    const file = this.options.log.file;
    this.options.log.guardWrites(() => {
      if (!lease.isHeldOn(file)) throw new Error(`this process no longer holds the lease on ${file} (another orchestrator took it over): it writes and sends nothing more`);
    });
    lease.onLost(() => {
      this.leaseLost = true;
      void this.stop();
    });
    for (const id of this.options.drivers.keys()) {
      const actor = createActor(moduleMachine(id), { inspect: this.options.inspect, clock: this.clock });
      actor.start();
      this.moduleActors.set(id, actor);
    }
    await this.gate.watchModules((module, state) => {
      this.moduleActors.get(module)?.send(moduleEvent(state));
      this.waiters.wake();
    });
    // Every batch record says which of its workcell's modules only simulate (SiLA SimulationController).
    const modes = await Promise.all([...this.options.drivers].map(async ([id, driver]) => [id, await driver.simulationMode?.().catch(() => undefined)] as const));
    this.simulatedModules = modes.filter(([, simulated]) => simulated === true).map(([id]) => id);
    this.reconciler.start();
    // Handling is idempotent, so reading every such entry of the log (from 0) is safe. Scheduling follows what they changed.
    this.stopWatching = this.options.log.watchOthers((entries) => this.fromOtherProcesses(entries), { clock: this.clock, everyMs: TICK_MS, from: 0, types: FROM_OTHER_PROCESSES });
    this.ticker = this.clock.poll(() => this.tick(), TICK_MS);
  }

  /** Starts a new batch on a schedule (whose text is recorded, so later edits of the file do not affect it). */
  startBatch(spec: BatchSpec, schedule: ScheduleSnapshot): void {
    if (spec.batchId === WORKCELL_STREAM || spec.batchId === OPERATORS_STREAM) throw new Error(`'${spec.batchId}' names a stream of the workcell's own; give the batch another id`);
    if (this.batches.has(spec.batchId) || this.options.log.stream(spec.batchId).length > 0) throw new Error(`batch ${spec.batchId} already exists in ${this.options.log.file}`);
    if (!this.layout.laneIds().includes(spec.lane)) throw new Error(`layout ${this.layout.id} has no lane ${spec.lane}`);
    for (const other of this.batches.values()) {
      if (other.identity.bagId === spec.bagId) throw new Error(`bag ${spec.bagId} already belongs to batch ${other.identity.batchId}`);
    }
    const model = scheduleFromText(schedule);
    const started: BatchStarted = {
      ...spec,
      layout: { id: this.layout.id, file: this.options.layoutFile, contentHash: this.options.layoutHash },
      schedule: { id: model.id, version: model.schedule.schedule.version, contentHash: contentHash(schedule.text), file: schedule.file, text: schedule.text },
      seed: this.options.seed,
      ...(this.simulatedModules.length > 0 ? { simulatedModules: this.simulatedModules } : {}),
    };
    this.options.log.append({ stream: spec.batchId, type: 'batch.started', at: this.clock.now(), data: started });
    this.launch(started, model, { at: 'step', step: model.schedule.steps[0]!.id });
  }

  /**
   * Continues every unfinished batch of the log: the state of each comes from its entries alone. Each
   * batch's record says it was picked up again, and whether the orchestrator before had crashed.
   */
  resumeAll(): string[] {
    const log = this.options.log;
    this.gate.replay(log.since(0));
    this.gate.relock();
    // Before any batch is launched: a step resumed in `running` enters its zone at once (XState starts an
    // invoked actor inside start()), and must find the plate a crash left exposed, not place a second one.
    for (const { module, after } of this.gate.interruptedClearances()) void this.gate.clearAfter(module, after).catch(() => undefined);
    this.em.restore();
    const resumed: string[] = [];
    for (const entry of log.ofType('batch.started')) {
      const started = entry.data;
      if (this.batches.has(started.batchId)) continue;
      const journal = new BatchJournal(started.batchId, log, () => this.clock.now());
      const state = journal.state();
      if (state.finished) continue;
      const model = scheduleFromText({ file: started.schedule.file, text: started.schedule.text });
      const position = positionOf(model, state);
      const afterCrash = state.lastStop !== 'interrupted';
      const where = position.at === 'finishing' ? 'moving out' : `${position.at === 'held' ? 'held at' : 'at'} ${position.step}`;
      log.append({ stream: started.batchId, type: 'batch.resumed', at: this.clock.now(), data: { runId: this.options.runId ?? null, afterCrash, position, message: `${afterCrash ? 'resumed after the orchestrator stopped without closing (a crash)' : 'resumed after a clean stop'}, ${where}` } });
      this.launch(started, model, position, journal, resumePoint(model, state, position));
      this.holdTimes.rearm(journal);
      resumed.push(started.batchId);
    }
    return resumed;
  }

  private launch(started: BatchStarted, schedule: ScheduleModel, position: BatchPosition, journal = new BatchJournal(started.batchId, this.options.log, () => this.clock.now()), resumeAt?: ResumePoint): void {
    const identity: BatchIdentity = { batchId: started.batchId, lane: started.lane, bagId: started.bagId };
    this.gate.register(identity);
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const batch: ActiveBatch = {
      identity,
      started,
      schedule,
      journal,
      done,
      finished,
      latestTelemetry: new Map(),
    };
    // A request found in the log at resume holds the batch at its first safe point.
    batch.interruptedFor = journal.state().holdRequest?.streamSeq;
    this.batches.set(started.batchId, batch);
    const machine = batchMachine(schedule.schedule, {
      steps: this.steps.workFor(batch),
      openHold: (step, reason, actedOn) => this.holds.openHold(batch, step, reason, actedOn),
      carryOut: (hold, answer) => this.holds.carryOut(batch, hold, answer),
      settle: (answer) => this.holds.settle(answer),
      answerFailed: (step, error) => this.holds.answerFailed(batch, step, error),
      skipStep: async (step) => this.holds.skipStep(batch, step),
      finish: () => this.steps.finish(batch, batch.journal.state().finishAnswers),
      quarantine: (step) => this.steps.quarantine(batch, step),
    });
    const actor = createActor(machine, { input: { batchId: started.batchId, position, resumeAt }, inspect: this.options.inspect, id: started.batchId, clock: this.clock });
    batch.actor = actor;
    actor.subscribe({
      complete: () => finished(),
      error: (error) => {
        this.options.log.append({ stream: WORKCELL_STREAM, type: 'alarm', at: this.clock.now(), data: { kind: 'orchestrator', batchId: started.batchId, message: (error as Error).message } });
        finished();
      },
    });
    actor.start();
  }

  /** Resolves once every batch has completed or been quarantined and every settle plate has been read. */
  async finished(options: { whenBatchesDone?: () => void } = {}): Promise<void> {
    while ([...this.batches.values()].some((b) => b.actor?.getSnapshot().status === 'active')) {
      await Promise.all([...this.batches.values()].map((b) => b.done));
    }
    options.whenBatchesDone?.();
    await this.em.settled();
    this.gate.flush();
    this.writeStatus(true);
  }

  // ---- the loop ----------------------------------------------------------------------------------

  private observe(entry: LogEntry): void {
    if (entry.type === 'telemetry' || entry.type === 'module.state') {
      // Sensor samples change nobody's wait; waking every waiter for each would make the loop quadratic.
      if (entry.type === 'telemetry') this.batches.get(entry.stream)?.latestTelemetry.set(entry.data.channel, entry.data.value);
      return;
    }
    if (FROM_OTHER_PROCESSES.includes(entry.type)) this.actOn(entry);
    if (entry.type === 'module.released' || entry.type === 'line-clearance.completed' || entry.type === 'transfer.completed') queueMicrotask(() => this.allocator.schedule());
    this.waiters.wake();
  }

  /** Acts on an entry an operator wrote (here or in another process); each is handled once, whoever reads it first. */
  private actOn(entry: LogEntry): void {
    switch (entry.type) {
      case 'hold.resolved': {
        // The batch machine takes the answer to the hold it is in, and only once (older ones it ignores).
        const actor = this.batches.get(entry.stream)?.actor;
        if (actor?.getSnapshot().status === 'active') actor.send({ type: 'ANSWERED', answer: entry });
        break;
      }
      case 'hold.requested': {
        const batch = this.batches.get(entry.stream);
        if (!batch || batch.interruptedFor === entry.streamSeq || batch.journal.state().holdRequest?.seq !== entry.seq) break;
        batch.interruptedFor = entry.streamSeq;
        // A batch waiting for a module is at a safe point: it holds now; a running command pauses where the device can.
        const message = heldBy(entry);
        if (!this.allocator.interrupt(batch.identity.batchId, new HoldRequired('operator', message, true, { request: entry.streamSeq }))) this.gate.executor.requestPause(batch.identity.batchId, { message, details: { request: entry.streamSeq } });
        break;
      }
      case 'material.removed':
        this.gate.applyRemovals([entry]);
        break;
      case 'module.out-of-service':
      case 'module.in-service':
        applyServiceEntry(this.outOfService, entry);
        break;
      case 'module.refresh-requested':
        void this.reconciler.refresh(entry.data.module, `asked for by ${entry.data.requestedBy}`);
        break;
      case 'batch.requested':
        if (!this.stopped && !this.batches.has(entry.data.batchId)) startRequestedBatch(this.options.log, entry, (spec, schedule) => this.startBatch(spec, schedule), this.clock.now());
        break;
      default:
        break;
    }
  }

  private fromOtherProcesses(entries: LogEntry[]): void {
    if (this.stopped || entries.length === 0) return;
    for (const entry of entries) this.actOn(entry);
    this.waiters.wake();
  }

  private tick(): void {
    if (this.stopped) return;
    this.allocator.schedule();
    if (wallNow() - this.statusWrittenAt >= STATUS_EVERY_MS) this.writeStatus(false);
  }

  /** What the scheduler sees of each module. */
  moduleViews(): Map<string, ModuleView> {
    return this.allocator.moduleViews();
  }

  private moduleState(id: string): ModuleState {
    const actor = this.moduleActors.get(id);
    return actor ? (actor.getSnapshot().value as ModuleState) : this.gate.moduleState(id);
  }

  /** A snapshot of batches and modules for `workcell status` and the live display. */
  status(): WorkcellStatus {
    const now = this.clock.now();
    return {
      at: now,
      batches: [...this.batches.values()].map((b) => batchStatus(b, now)),
      modules: this.layout.layout.modules.map((m) => ({ id: m.id, state: this.moduleState(m.id), occupant: this.gate.occupant(m.id), outOfService: this.outOfService.has(m.id) ? unusable(m, this.outOfService, now) : undefined })),
      plates: this.em.summary(),
    };
  }

  private writeStatus(final: boolean): void {
    this.statusWrittenAt = wallNow();
    try {
      this.options.log.writeStatus('orchestrator', { ...this.status(), timeScale: this.clock.timeScale, final, pid: process.pid });
    } catch {
      // The status view is advisory; the log itself is written elsewhere and fails loudly.
    }
  }

  /** Stops this process's work; every unfinished batch's record says so, and `workcell resume` continues it. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clock.clearTimeout(this.ticker);
    this.stopWatching?.();
    this.reconciler.close();
    this.em.stop();
    this.holdTimes.stop();
    for (const batch of this.batches.values()) {
      if (batch.actor?.getSnapshot().status !== 'active') continue;
      const { step, phase } = batchStatus(batch, this.clock.now());
      batch.actor.stop();
      try {
        batch.journal.write('batch.interrupted', { step, phase, message: `the orchestrator stopped while ${batch.identity.batchId} was ${phase} at ${step}` });
      } catch {
        // A log that cannot be written any more (closed under us) says nothing: resume then reports a crash.
      }
    }
    // Subscriptions end before the module machines do: no state reaches a stopped actor.
    await this.gate.close();
    for (const actor of this.moduleActors.values()) actor.stop();
    // Whoever holds the log after this (its closing checkpoint, the CLI) writes freely, unless the lease went to another process.
    if (!this.leaseLost) this.options.log.guardWrites(undefined);
    this.ownLease?.release();
  }
}
