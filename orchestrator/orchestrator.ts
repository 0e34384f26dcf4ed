/**
 * The orchestrator: runs many patient batches at once through a workcell's modules. Each batch is an
 * XState actor derived from its schedule; device work goes through the MaterialGate (lane segregation),
 * module allocation through a pluggable Scheduler, and every fact into the hash-chained event log,
 * from which a restarted orchestrator picks every unfinished batch up where it was.
 */
import { createHash } from 'node:crypto';
import { createActor, type AnyActorRef, type InspectionEvent, type Observer } from 'xstate';
import type { LayoutModel, ModuleConfig } from '../config/layout.ts';
import type { RecurringStep, ScheduleModel, Step, Condition, Control } from '../config/schedule.ts';
import { canonicalUnit, convert, parseDuration, parseQuantityIn } from '../config/units.ts';
import { YamlSource } from '../config/source.ts';
import { validateSources } from '../config/validate.ts';
import type { Clock } from '../modules/clock.ts';
import type { ModuleState } from '../modules/state-model.ts';
import { ModuleError, type ModuleDriver, type ParameterValue, type ResultValue } from '../drivers/module.ts';
import { WORKCELL_STREAM, type EventLog, type LogEntry } from './event-log.ts';
import { OPERATORS_STREAM, signed, type Credentials } from './signatures.ts';
import { BatchJournal, type BatchStarted, type HoldAction } from './entries.ts';
import { HoldRequired, MaterialGate, type BatchIdentity } from './material-gate.ts';
import { DeadlineFirstScheduler, type AllocationRequest, type ChainLink, type ModuleView, type Scheduler } from './scheduler.ts';
import { batchMachine, FINISH, moduleEvent, moduleMachine, type BatchPosition } from './batch-machine.ts';
import { EnvironmentalMonitoring } from './environmental-monitoring.ts';

export interface BatchSpec {
  batchId: string;
  patient: string;
  /** ISBT 128 chain-of-identity identifier (or the site's equivalent). */
  chainOfIdentity: string;
  bagId: string;
  lane: string;
}

export interface ScheduleSnapshot {
  file: string;
  text: string;
}

export interface OrchestratorOptions {
  layout: LayoutModel;
  layoutFile: string;
  /** SHA-256 of the layout file as loaded, recorded with each batch. */
  layoutHash?: string;
  log: EventLog;
  drivers: ReadonlyMap<string, ModuleDriver>;
  clock: Clock;
  scheduler?: Scheduler;
  /** Puts starting material at an intake position (in-process simulation); without it, an operator does. */
  deliver?: (bagId: string, position: string) => void | Promise<void>;
  /** XState inspection (e.g. @statelyai/inspect). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Identifies this run in plate ids. */
  runId?: string;
  seed?: number;
}

export type BatchPhase = 'intake' | 'waiting' | 'clearance' | 'transfer' | 'running' | 'held' | 'completed' | 'quarantined';

export interface BatchStatus {
  batchId: string;
  patient: string;
  lane: string;
  step: string;
  module?: string;
  phase: BatchPhase;
  /** Why the batch waits (scheduler's words), or why it is held. */
  note?: string;
  /** Expected finish of the whole batch, clock ms. */
  expectedFinish?: number;
  progress?: number;
}

interface ActiveBatch {
  identity: BatchIdentity;
  started: BatchStarted;
  schedule: ScheduleModel;
  journal: BatchJournal;
  status: BatchStatus;
  actor?: AnyActorRef;
  done: Promise<void>;
  finished: () => void;
  /** The latest sample of each telemetry channel attributed to the batch, for `when` conditions. */
  latestTelemetry: Map<string, number>;
  /** The hold whose answer this process has acted on: an answer is acted on once, whatever follows. */
  actedOnHold?: number;
}

interface PendingAllocation {
  request: AllocationRequest;
  grant: (module: string) => void;
  /** Idempotency key of the transfer that parks the material in storage while it waits. */
  parkKey: string;
  /** Set while (or once) the material moves to storage; a grant waits for it. */
  parking?: Promise<void>;
  /** Moves to storage that failed (a misread, say); each try has a key of its own. */
  failedParks: number;
}

/** Parses a schedule from the text a batch recorded when it started. */
export function scheduleFromText(snapshot: ScheduleSnapshot): ScheduleModel {
  const result = validateSources([new YamlSource(snapshot.file, snapshot.text)]);
  const schedule = result.schedules[0];
  if (!schedule) throw new Error(`the schedule recorded for this batch (${snapshot.file}) no longer validates: ${result.diagnostics.map((d) => d.message).join('; ')}`);
  return schedule.model;
}

export function contentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const TICK_MS = 100;

export class Orchestrator {
  readonly gate: MaterialGate;
  readonly em: EnvironmentalMonitoring;
  private readonly scheduler: Scheduler;
  private readonly batches = new Map<string, ActiveBatch>();
  private readonly pending = new Map<string, PendingAllocation>();
  private readonly busyUntil = new Map<string, number>();
  private readonly moduleActors = new Map<string, AnyActorRef>();
  private readonly holdTimers = new Map<string, AbortController>();
  private readonly intakeQueues = new Map<string, string[]>();
  private readonly parkingSlots = new Set<string>();
  private readonly waiters = new Set<() => void>();
  private ticker: NodeJS.Timeout | undefined;
  private statusWritten = 0;
  /** The last `material.removed` entry applied (removals are idempotent, so starting from 0 is safe). */
  private removalsSeen = 0;
  private stopped = false;

  constructor(private readonly options: OrchestratorOptions) {
    this.scheduler = options.scheduler ?? new DeadlineFirstScheduler();
    this.gate = new MaterialGate(options.layout, options.drivers, options.log, options.clock);
    this.em = new EnvironmentalMonitoring(options.layout, this.gate, options.log, options.clock, options.runId ?? 'R1');
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
    for (const id of this.options.drivers.keys()) {
      const actor = createActor(moduleMachine(id), { inspect: this.options.inspect });
      actor.start();
      this.moduleActors.set(id, actor);
    }
    await this.gate.watchModules((module, state) => {
      this.moduleActors.get(module)?.send(moduleEvent(state));
      this.wake();
    });
    this.ticker = setInterval(() => this.tick(), TICK_MS);
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
    };
    this.options.log.append({ stream: spec.batchId, type: 'batch.started', at: this.clock.now(), data: started as unknown as Record<string, unknown> });
    this.launch(started, model, { at: 'step', step: model.schedule.steps[0]!.id });
  }

  /** Continues every unfinished batch of the log: the state of each comes from its entries alone. */
  resumeAll(): string[] {
    const log = this.options.log;
    this.gate.replay(log.since(0));
    const resumed: string[] = [];
    for (const entry of log.ofType('batch.started')) {
      const started = entry.data as unknown as BatchStarted;
      if (this.batches.has(started.batchId)) continue;
      const entries = log.stream(started.batchId);
      if (entries.some((e) => e.type === 'batch.completed' || e.type === 'batch.quarantined')) continue;
      const model = scheduleFromText({ file: started.schedule.file, text: started.schedule.text });
      this.launch(started, model, positionFromLog(model, entries));
      this.rearmHoldTime(started.batchId, entries);
      resumed.push(started.batchId);
    }
    for (const { module, after } of this.gate.interruptedClearances()) void this.gate.clearAfter(module, after).catch(() => undefined);
    this.em.restore();
    return resumed;
  }

  private launch(started: BatchStarted, schedule: ScheduleModel, position: BatchPosition): void {
    const identity: BatchIdentity = { batchId: started.batchId, lane: started.lane, bagId: started.bagId };
    this.gate.register(identity);
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const batch: ActiveBatch = {
      identity,
      started,
      schedule,
      journal: new BatchJournal(started.batchId, this.options.log, () => this.clock.now()),
      status: { batchId: started.batchId, patient: started.patient, lane: started.lane, step: position.at === 'finishing' ? 'finish' : position.step, phase: 'waiting' },
      done,
      finished,
      latestTelemetry: new Map(),
    };
    this.batches.set(started.batchId, batch);
    const machine = batchMachine(schedule.schedule, {
      runStep: (step) => this.runStep(batch, step),
      awaitOperator: (step, reason) => this.awaitOperator(batch, step, reason),
      skipStep: async (step) => {
        batch.journal.write('step.skipped', { step, reason: 'skipped by an operator (see the hold resolution)' });
        this.gate.releaseEmpty(batch.identity);
      },
      finish: () => this.finish(batch),
      quarantine: (step) => this.quarantine(batch, step),
    });
    const actor = createActor(machine, { input: { batchId: started.batchId, position }, inspect: this.options.inspect, id: started.batchId });
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

  // ---- steps ---------------------------------------------------------------------------------

  private async runStep(batch: ActiveBatch, stepId: string): Promise<void> {
    const step = batch.schedule.schedule.steps.find((s) => s.id === stepId)!;
    batch.status.step = stepId;
    if (!this.gate.whereIs(batch.identity.batchId)) await this.receive(batch);
    if (step.when && !this.conditionMet(batch, step.when, step.capability)) {
      batch.journal.write('step.skipped', { step: stepId, reason: `condition not met: ${describeCondition(step.when)}` });
      return;
    }
    const policy = step.onFailure ?? { retries: 0, then: 'hold' as const };
    const backoff = parseDuration(policy.backoff ?? '30 s');
    const avoid: string[] = [];
    for (;;) {
      const attempt = this.openAttempt(batch, stepId) ?? this.newAttempt(batch, stepId);
      try {
        await this.attemptStep(batch, step, attempt, avoid);
        return;
      } catch (error) {
        const beforeLoad = error instanceof HoldRequired ? error.beforeLoad : error instanceof ModuleError && (error as ModuleError & { beforeLoad?: boolean }).beforeLoad === true;
        batch.journal.write('step.failed', { step: stepId, attempt, message: (error as Error).message, beforeLoad });
        const module = batch.status.module;
        if (error instanceof HoldRequired && !['command-failed'].includes(error.kind)) throw error;
        const failures = this.failuresSinceLastHold(batch, stepId);
        if (failures > (policy.retries ?? 0)) throw error instanceof HoldRequired ? error : new HoldRequired('command-failed', (error as Error).message);
        if (beforeLoad && policy.alternateModule && module) {
          avoid.push(module);
          this.gate.release(batch.identity, module);
        }
        if (module) await this.gate.recover(module);
        await this.clock.sleep((backoff.ok ? backoff.value : 30) * 1000 * 2 ** (failures - 1));
      }
    }
  }

  private openAttempt(batch: ActiveBatch, stepId: string): number | undefined {
    const entries = batch.journal.entries();
    let open: number | undefined;
    for (const e of entries) {
      if (e.data.step !== stepId) continue;
      if (e.type === 'step.started') open = Number(e.data.attempt);
      if (e.type === 'step.failed' || e.type === 'step.completed' || e.type === 'step.skipped') open = undefined;
    }
    return open;
  }

  private newAttempt(batch: ActiveBatch, stepId: string): number {
    const attempt = batch.journal.entries().filter((e) => e.type === 'step.started' && e.data.step === stepId).length + 1;
    batch.journal.write('step.started', { step: stepId, attempt });
    return attempt;
  }

  private failuresSinceLastHold(batch: ActiveBatch, stepId: string): number {
    let failures = 0;
    for (const e of batch.journal.entries()) {
      if (e.type === 'hold.resolved') failures = 0;
      if (e.type === 'step.failed' && e.data.step === stepId) failures++;
    }
    return failures;
  }

  private async attemptStep(batch: ActiveBatch, step: Step, attempt: number, avoid: string[]): Promise<void> {
    const id = batch.identity.batchId;
    const key = (what: string) => `${id}:${step.id}:${attempt}:${what}`;
    batch.status.phase = 'waiting';
    const moduleId = await this.allocate(batch, step, avoid, key('park'));
    batch.status.module = moduleId;
    const module = this.layout.modules.get(moduleId)!;
    const position = this.layout.positionsOf(module)[0] ?? moduleId;
    batch.status.phase = 'clearance';
    await this.gate.clearLine(batch.identity, moduleId);
    if (step.environmentalMonitoring) await this.em.enter(id, module);
    try {
      batch.status.phase = 'transfer';
      try {
        await this.gate.transfer(batch.identity, position, key('load'));
      } catch (error) {
        if (error instanceof ModuleError) Object.assign(error, { beforeLoad: this.gate.whereIs(id) !== position });
        throw error;
      }
      this.endHoldTime(batch);
      batch.status.phase = 'running';
      this.expectRelease(batch, step, moduleId, batch.schedule.expectedDuration(step));
      const results = await this.execute(batch, step, moduleId, key);
      this.checkControls(batch, step, results);
      batch.journal.write('step.completed', { step: step.id, attempt, module: moduleId, parameters: batch.schedule.normalizedParameters(step), results });
    } finally {
      if (step.environmentalMonitoring) this.em.leave(id, module);
    }
    const maxHold = batch.schedule.maxHold(step);
    const index = batch.schedule.schedule.steps.indexOf(step);
    if (maxHold !== undefined && index < batch.schedule.schedule.steps.length - 1) {
      const deadline = this.clock.now() + maxHold * 1000;
      batch.journal.write('hold-time.started', { step: step.id, maxHoldSeconds: maxHold, deadline: new Date(deadline).toISOString(), deadlineMs: deadline });
      this.armHoldTime(batch, step.id, deadline, maxHold * 1000);
    }
  }

  /** The step's command; a step with recurring work runs in segments with that work between them. */
  private async execute(batch: ActiveBatch, step: Step, moduleId: string, key: (what: string) => string): Promise<Record<string, ResultValue>> {
    const parameters = batch.schedule.normalizedParameters(step);
    const recurring = step.during ?? [];
    const durationUnit = batch.schedule.catalogue.capability(step.capability)?.spec.parameters.duration?.unit ?? 's';
    const secondsPerUnit = convert({ value: 1, unit: canonicalUnit(durationUnit) ?? durationUnit }, 's') ?? 1;
    const total = Number(parameters.duration ?? 0) * secondsPerUnit;
    const every = recurring.map((r) => (r.every !== undefined ? (parseDuration(r.every) as { value: number }).value : undefined)).filter((v): v is number => v !== undefined && v > 0);
    if (recurring.length === 0 || !(total > 0) || every.length === 0) {
      return this.runCommand(batch, step, step.capability, parameters, moduleId, { key: key('run'), expectedSeconds: batch.schedule.expectedDuration(step), stepSecondsAfter: 0 });
    }
    // The device runs one command at a time: the culture runs in segments with the recurring work between them.
    const segment = Math.min(...every);
    let elapsed = 0;
    let results: Record<string, ResultValue> = {};
    for (let i = 0; elapsed < total; i++) {
      this.expectRelease(batch, step, moduleId, total - elapsed);
      const length = Math.min(segment, total - elapsed);
      results = await this.runCommand(batch, step, step.capability, { ...parameters, duration: length / secondsPerUnit }, moduleId, { key: key(`run.${i}`), expectedSeconds: length, stepSecondsAfter: total - elapsed - length });
      elapsed += length;
      if (elapsed >= total) break;
      for (const extra of recurring) await this.runRecurring(batch, step, extra, elapsed, moduleId, key(`${extra.id}.${i}`));
    }
    return results;
  }

  private async runRecurring(batch: ActiveBatch, step: Step, extra: RecurringStep, elapsedSeconds: number, moduleId: string, commandKey: string): Promise<void> {
    const every = extra.every !== undefined ? parseDuration(extra.every) : undefined;
    if (every?.ok && Math.round(elapsedSeconds) % Math.round(every.value) !== 0) return;
    if (extra.when && !this.conditionMet(batch, extra.when, extra.capability)) return;
    const parameters = batch.schedule.normalizedParameters(extra);
    const capability = batch.schedule.catalogue.capability(extra.capability);
    const estimate = capability ? batch.schedule.expectedDuration({ id: extra.id, capability: extra.capability, parameters: extra.parameters }) : 60;
    const results = await this.runCommand(batch, step, extra.capability, parameters, moduleId, { key: commandKey, expectedSeconds: estimate, label: extra.id });
    this.checkControls(batch, { ...step, id: extra.id, capability: extra.capability, controls: extra.controls }, results);
  }

  /**
   * One device command of a step. `stepSecondsAfter` marks the step's own work (not recurring work in
   * between): how much of the step remains after this command, so progress can update the release estimate.
   */
  private async runCommand(
    batch: ActiveBatch,
    step: Step,
    capabilityRef: string,
    parameters: Record<string, ParameterValue>,
    moduleId: string,
    command: { key: string; expectedSeconds: number; label?: string; stepSecondsAfter?: number },
  ): Promise<Record<string, ResultValue>> {
    const { key, expectedSeconds, label = step.id, stepSecondsAfter } = command;
    const capability = capabilityRef.slice(capabilityRef.indexOf('.') + 1);
    const results = await this.gate.command({
      batch: batch.identity,
      module: moduleId,
      capability,
      parameters,
      key,
      stepId: label,
      expectedSeconds,
      itemId: batch.identity.bagId,
      onProgress: (progress) => {
        batch.status.progress = progress.fraction;
        if (stepSecondsAfter !== undefined && progress.remainingSeconds !== undefined) this.expectRelease(batch, step, moduleId, progress.remainingSeconds * this.clock.timeScale + stepSecondsAfter);
      },
    });
    return results;
  }

  private checkControls(batch: ActiveBatch, step: Step, results: Record<string, ResultValue>): void {
    const capability = batch.schedule.catalogue.capability(step.capability);
    for (const control of step.controls ?? []) {
      const unit = capability?.spec.results[control.result]?.unit ?? '1';
      const value = Number(results[control.result]);
      const limit = (bound: Control['min']) => (bound === undefined ? undefined : (parseQuantityIn(bound, unit) as { ok: boolean; value: number }).value);
      const min = limit(control.min);
      const max = limit(control.max);
      const pass = Number.isFinite(value) && (min === undefined || value >= min) && (max === undefined || value <= max);
      batch.journal.write('control.checked', { step: step.id, result: control.result, value, unit, min: min ?? null, max: max ?? null, pass });
      if (pass) continue;
      const message = `${step.id}: ${control.result} ${round(value)} ${unit} is outside ${min !== undefined ? `min ${min}` : ''}${min !== undefined && max !== undefined ? ', ' : ''}${max !== undefined ? `max ${max}` : ''} ${unit}`;
      batch.journal.write('deviation', { kind: 'out-of-limit', step: step.id, result: control.result, value, message });
      if (control.onFail === 'hold' || control.onFail === 'abort') throw new HoldRequired('control', message);
    }
  }

  /** A `when` condition: an earlier step's result (`STEP.RESULT`) from the log, or the latest telemetry sample. */
  private conditionMet(batch: ActiveBatch, condition: Condition, capabilityRef: string): boolean {
    const subject = condition.result !== undefined ? this.resultOf(batch, condition.result) : this.telemetryOf(batch, condition.telemetry!, capabilityRef);
    if (!subject) return false;
    const bound = (q: Condition['below']) => (q === undefined ? undefined : (parseQuantityIn(q, subject.unit) as { value: number }).value);
    const below = bound(condition.below);
    const above = bound(condition.above);
    return (below === undefined || subject.value < below) && (above === undefined || subject.value > above);
  }

  /** The latest value of an earlier step's (or recurring work's) result, read from the log so that it holds after a restart. */
  private resultOf(batch: ActiveBatch, reference: string): { value: number; unit: string } | undefined {
    const [stepId, name = ''] = reference.split('.');
    const step = batch.schedule.schedule.steps.flatMap((s): Array<Step | RecurringStep> => [s, ...(s.during ?? [])]).find((s) => s.id === stepId);
    if (!step) return undefined;
    const unit = batch.schedule.catalogue.capability(step.capability)?.spec.results[name]?.unit ?? '1';
    const entries = batch.journal.entries();
    const stepOfKey = new Map(entries.filter((e) => e.type === 'command.issued').map((e) => [String(e.data.key), String(e.data.step)]));
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i]!;
      if (entry.type !== 'command.completed' || stepOfKey.get(String(entry.data.key)) !== stepId) continue;
      const value = (entry.data.results as Record<string, unknown>)[name];
      if (typeof value === 'number') return { value, unit };
    }
    return undefined;
  }

  private telemetryOf(batch: ActiveBatch, channel: string, capabilityRef: string): { value: number; unit: string } | undefined {
    const value = batch.latestTelemetry.get(channel);
    if (value === undefined) return undefined;
    const kind = this.layout.catalogue.capability(capabilityRef)?.kind;
    const unit = Object.values(kind?.capabilities ?? {}).map((c) => c.telemetry[channel]?.unit).find(Boolean) ?? '1';
    return { value, unit };
  }

  // ---- material in and out ---------------------------------------------------------------------

  private async receive(batch: ActiveBatch): Promise<void> {
    const position = this.layout.workcellPositions('intake', batch.identity.lane)[0]?.id;
    if (!position) throw new HoldRequired('intake', `layout ${this.layout.id} has no intake position for ${batch.identity.lane}`);
    batch.status.phase = 'intake';
    const queue = this.intakeQueues.get(position) ?? [];
    this.intakeQueues.set(position, queue);
    if (!queue.includes(batch.identity.batchId)) queue.push(batch.identity.batchId);
    batch.status.note = `waiting for intake ${position}`;
    await this.waitUntil(() => queue[0] === batch.identity.batchId && ![...this.batches.values()].some((b) => this.gate.whereIs(b.identity.batchId) === position));
    try {
      for (let scan = 0; ; scan++) {
        const scanned = await this.gate.scan(batch.identity, position, `${batch.identity.batchId}:intake:${scan}`);
        if (scanned !== '') {
          this.gate.received(batch.identity, position, scanned);
          break;
        }
        if (this.options.deliver && scan === 0) {
          await this.options.deliver(batch.identity.bagId, position);
          continue;
        }
        if (scan >= 20) throw new HoldRequired('intake', `no bag at ${position}: place ${batch.identity.bagId} there, then answer the hold with retry`);
        await this.clock.sleep(30_000);
      }
    } finally {
      queue.splice(queue.indexOf(batch.identity.batchId), 1);
      batch.status.note = undefined;
    }
  }

  private async finish(batch: ActiveBatch): Promise<void> {
    const output = this.layout.workcellPositions('output', batch.identity.lane)[0]?.id;
    if (!output) throw new HoldRequired('segregation', `layout ${this.layout.id} has no output position for ${batch.identity.lane}`);
    batch.status.step = 'finish';
    batch.status.phase = 'transfer';
    const tries = batch.journal.entries().filter((e) => e.type === 'hold.resolved' && e.data.step === FINISH).length;
    await this.gate.transfer(batch.identity, output, `${batch.identity.batchId}:finish:${tries + 1}:out`);
    this.endHoldTime(batch);
    this.gate.releaseEmpty(batch.identity);
    batch.journal.write('batch.completed', { output, bagId: batch.identity.bagId });
    batch.status.phase = 'completed';
    batch.status.module = undefined;
  }

  private async quarantine(batch: ActiveBatch, step: string): Promise<void> {
    const module = batch.status.module;
    if (module) await this.gate.recover(module);
    const output = this.layout.workcellPositions('output', batch.identity.lane)[0]?.id;
    let where = this.gate.whereIs(batch.identity.batchId) ?? 'unknown';
    // The material leaves the workcell for quarantine; a one-off failure (a misread) is tried again.
    for (let attempt = 1; output && where !== output && attempt <= 3; attempt++) {
      try {
        await this.gate.transfer(batch.identity, output, `${batch.identity.batchId}:quarantine:${attempt}:out`);
        where = output;
      } catch (error) {
        if (attempt === 3) {
          const command = `workcell remove ${batch.identity.batchId} --reason TEXT --user NAME`;
          batch.journal.write('alarm', { kind: 'quarantine', message: `the material could not be moved out of ${where}: ${(error as Error).message}; remove it by hand, then record that with ${command}` });
        } else {
          const stuckIn = this.gate.moduleHolding(batch.identity.batchId);
          if (stuckIn) await this.gate.recover(stuckIn.id);
        }
      }
    }
    this.endHoldTime(batch);
    this.gate.releaseEmpty(batch.identity);
    batch.journal.write('batch.quarantined', { step, location: where, bagId: batch.identity.bagId, stuck: where !== output });
    batch.status.phase = 'quarantined';
  }

  // ---- allocation ------------------------------------------------------------------------------

  private allocate(batch: ActiveBatch, step: Step, avoid: string[], parkKey: string): Promise<string> {
    const candidates = this.layout.modulesFor(batch.identity.lane, step.capability).map((m) => m.id);
    const held = candidates.find((id) => this.gate.occupant(id) === batch.identity.batchId && !avoid.includes(id));
    if (held) return Promise.resolve(held);
    const hold = this.holdDeadline(batch);
    return new Promise((resolve) => {
      this.pending.set(batch.identity.batchId, {
        request: {
          batchId: batch.identity.batchId,
          stepId: step.id,
          capability: step.capability,
          candidates,
          holdDeadline: hold,
          waitingSince: this.clock.now(),
          avoid: [...avoid],
          durationMs: (batch.schedule.expectedDuration(step) + this.gate.handlingSeconds(candidates, batch.identity.lane)) * 1000,
          holdChain: this.holdChain(batch, step),
        },
        grant: resolve,
        parkKey,
        failedParks: 0,
      });
      queueMicrotask(() => this.schedule());
    });
  }

  /**
   * When the batch is expected to leave the module, for the scheduler: the rest of `step`, then the
   * steps after it that run on the same kind of module (the material stays where it is for those).
   */
  private expectRelease(batch: ActiveBatch, step: Step, moduleId: string, stepSecondsLeft: number): void {
    const kind = this.layout.modules.get(moduleId)!.kind;
    const steps = batch.schedule.schedule.steps;
    // The material still has to be carried out before the module is free.
    let seconds = stepSecondsLeft + this.gate.handlingSeconds([moduleId], batch.identity.lane);
    for (let i = steps.indexOf(step) + 1; i > 0 && i < steps.length && steps[i]!.capability.split('.')[0] === kind; i++) seconds += batch.schedule.expectedDuration(steps[i]!);
    this.busyUntil.set(moduleId, this.clock.now() + seconds * 1000);
  }

  /** The steps after `step` linked to it by hold times, for the scheduler's lookahead. */
  private holdChain(batch: ActiveBatch, step: Step): ChainLink[] {
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

  private holdDeadline(batch: ActiveBatch): number | undefined {
    const entries = batch.journal.entries();
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      if (e.type === 'hold-time.ended') return undefined;
      if (e.type === 'hold-time.started') return Number(e.data.deadlineMs);
    }
    return undefined;
  }

  /** What the scheduler sees of each module. */
  moduleViews(): Map<string, ModuleView> {
    const today = new Date(this.clock.now()).toISOString().slice(0, 10);
    const views = new Map<string, ModuleView>();
    for (const module of this.layout.layout.modules) {
      views.set(module.id, {
        id: module.id,
        kind: module.kind,
        state: this.moduleState(module.id),
        occupiedBy: this.gate.occupant(module.id),
        busyUntil: this.gate.occupant(module.id) ? this.busyUntil.get(module.id) : this.gate.clearingUntil(module.id),
        clearanceBefore: (batchId) => this.gate.clearanceBefore(module.id, batchId),
        unusable: unusable(module, today),
      });
    }
    return views;
  }

  private moduleState(id: string): ModuleState {
    const actor = this.moduleActors.get(id);
    return actor ? (actor.getSnapshot().value as ModuleState) : this.gate.moduleState(id);
  }

  private schedule(): void {
    if (this.pending.size === 0) return;
    const decision = this.scheduler.decide([...this.pending.values()].map((p) => p.request), this.moduleViews(), this.clock.now());
    for (const grant of decision.grants) {
      const pending = this.pending.get(grant.request.batchId)!;
      const batch = this.batches.get(grant.request.batchId)!;
      this.pending.delete(grant.request.batchId);
      this.gate.reserve(batch.identity, grant.module);
      batch.status.note = undefined;
      if (pending.parking) void pending.parking.then(() => pending.grant(grant.module));
      else pending.grant(grant.module);
    }
    for (const [batchId, why] of decision.waits) {
      const batch = this.batches.get(batchId);
      if (batch) batch.status.note = why;
      this.parkIfBlocking(batchId);
    }
  }

  /**
   * Hold-and-wait deadlock breaker: a batch waiting for its next module while its material sits in a
   * module another waiting batch needs (for its next step or the one after) moves to a storage slot of
   * its lane, freeing the module.
   */
  private parkIfBlocking(batchId: string): void {
    const pending = this.pending.get(batchId);
    const batch = this.batches.get(batchId);
    if (!pending || !batch || pending.parking || pending.failedParks >= 3) return;
    const module = this.gate.moduleHolding(batchId);
    if (!module) return;
    // Needed now, or right after another batch's next step (its hold time will not wait for this one to leave).
    const needed = [...this.pending.values()].some(
      (p) => p.request.batchId !== batchId && !p.request.avoid?.includes(module.id) && (p.request.candidates.includes(module.id) || !!p.request.holdChain?.[0]?.candidates.includes(module.id)),
    );
    if (!needed) return;
    const taken = new Set([...this.batches.keys()].map((id) => this.gate.whereIs(id)).concat([...this.parkingSlots]));
    const free = this.layout.storageSlots(batch.identity.lane).filter((s) => !taken.has(s));
    // The last free slot is kept for breaking a circular wait: filled by batches that merely make way,
    // storage would leave two batches each holding the module the other needs with nowhere to go.
    const slot = free.length > 1 || this.waitsInCycle(batchId) ? free[0] : undefined;
    if (!slot) {
      const why = free.length === 0 ? `no storage slot of ${batch.identity.lane} is free` : `the last free storage slot of ${batch.identity.lane} is kept for breaking a circular wait`;
      batch.status.note = `${batch.status.note}; ${module.id} is needed by another batch but ${why}`;
      return;
    }
    this.parkingSlots.add(slot);
    batch.status.phase = 'transfer';
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
        batch.status.phase = 'waiting';
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

  // ---- hold times -------------------------------------------------------------------------------

  private armHoldTime(batch: ActiveBatch, step: string, deadline: number, maxHoldMs: number): void {
    this.holdTimers.get(batch.identity.batchId)?.abort();
    const cancel = new AbortController();
    this.holdTimers.set(batch.identity.batchId, cancel);
    const alarmAt = deadline - Math.min(5 * 60_000, maxHoldMs * 0.25);
    const already = (type: string) => batch.journal.entries().some((e) => e.type === type && e.data.holdOf === step && e.data.deadlineMs === deadline);
    void (async () => {
      await this.clock.sleep(Math.max(0, alarmAt - this.clock.now()), cancel.signal);
      if (!already('alarm')) batch.journal.write('alarm', { kind: 'hold-time', holdOf: step, deadlineMs: deadline, message: `hold time after ${step} expires at ${new Date(deadline).toISOString()}` });
      await this.clock.sleep(Math.max(0, deadline - this.clock.now()), cancel.signal);
      if (!already('deviation')) batch.journal.write('deviation', { kind: 'hold-time-exceeded', holdOf: step, deadlineMs: deadline, message: `hold time after ${step} (${Math.round(maxHoldMs / 60_000)} min) exceeded` });
    })().catch(() => undefined);
  }

  private endHoldTime(batch: ActiveBatch): void {
    const timer = this.holdTimers.get(batch.identity.batchId);
    if (!timer) return;
    timer.abort();
    this.holdTimers.delete(batch.identity.batchId);
    batch.journal.write('hold-time.ended', {});
  }

  /** After a restart: the hold time still running is re-armed at its original deadline. */
  private rearmHoldTime(batchId: string, entries: LogEntry[]): void {
    const batch = this.batches.get(batchId)!;
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      if (e.type === 'hold-time.ended') return;
      if (e.type === 'hold-time.started') {
        this.armHoldTime(batch, String(e.data.step), Number(e.data.deadlineMs), Number(e.data.maxHoldSeconds) * 1000);
        return;
      }
    }
  }

  // ---- holds -------------------------------------------------------------------------------------

  private async awaitOperator(batch: ActiveBatch, step: string, reason: unknown): Promise<HoldAction> {
    batch.status.phase = 'held';
    // An answered hold found in the log is one given while no orchestrator acted on it (a restart).
    // Once acted on here, a new failure opens a new hold: replaying the old answer would loop.
    const pending = pendingHold(batch.journal.entries())?.entry;
    const open = pending && pending.seq !== batch.actedOnHold ? pending : undefined;
    let since: number;
    if (open) {
      since = open.seq;
      batch.status.note = String(open.data.message);
    } else {
      const kind = reason instanceof HoldRequired ? reason.kind : 'command-failed';
      const message = reason instanceof Error ? reason.message : String(reason);
      // Moving the finished material out can be tried again or given up, not skipped.
      const actions = step === FINISH ? ['retry', 'abort'] : ['retry', 'skip', 'abort'];
      since = batch.journal.write('hold.opened', { step, kind, message, actions }).seq;
      batch.status.note = message;
    }
    let answer: LogEntry | undefined;
    // Answers may come from another process (`workcell resolve`): read only this kind of entry, by index.
    await this.waitUntil(() => {
      answer = this.options.log.since(since, ['hold.resolved']).find((e) => e.stream === batch.identity.batchId);
      return answer !== undefined;
    });
    const action = answer!.data.action as HoldAction;
    batch.actedOnHold = since;
    batch.status.note = undefined;
    batch.status.phase = 'waiting';
    if (action !== 'abort' && batch.status.module) await this.gate.recover(batch.status.module);
    return action;
  }

  // ---- the loop ----------------------------------------------------------------------------------

  private observe(entry: LogEntry): void {
    if (entry.type === 'telemetry' || entry.type === 'module.state') {
      // Sensor samples change nobody's wait; waking every waiter for each would make the loop quadratic.
      if (entry.type === 'telemetry') this.batches.get(entry.stream)?.latestTelemetry.set(String(entry.data.channel), Number(entry.data.value));
      return;
    }
    if (entry.type === 'module.released' || entry.type === 'line-clearance.completed' || entry.type === 'transfer.completed') queueMicrotask(() => this.schedule());
    this.wake();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private waitUntil(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!predicate()) return;
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  private tick(): void {
    if (this.stopped) return;
    // Material removed by hand is recorded by another process (`workcell remove`); it frees a module.
    const removals = this.options.log.since(this.removalsSeen, ['material.removed']);
    if (removals.length > 0) {
      this.removalsSeen = removals.at(-1)!.seq;
      this.gate.applyRemovals(removals);
    }
    this.schedule();
    this.wake(); // holds answered from another process (`workcell resolve`) are found by polling
    if (Date.now() - this.statusWritten >= 250) this.writeStatus(false);
  }

  /** A snapshot of batches and modules for `workcell status` and the live display. */
  status(): { at: number; batches: BatchStatus[]; modules: Array<{ id: string; state: ModuleState; occupant?: string }>; plates: string[] } {
    const now = this.clock.now();
    for (const batch of this.batches.values()) batch.status.expectedFinish = this.expectedFinish(batch, now);
    return {
      at: now,
      batches: [...this.batches.values()].map((b) => ({ ...b.status })),
      modules: this.layout.layout.modules.map((m) => ({ id: m.id, state: this.moduleState(m.id), occupant: this.gate.occupant(m.id) })),
      plates: this.em.summary(),
    };
  }

  private expectedFinish(batch: ActiveBatch, now: number): number | undefined {
    if (batch.status.phase === 'completed' || batch.status.phase === 'quarantined') return undefined;
    const steps = batch.schedule.schedule.steps;
    const index = steps.findIndex((s) => s.id === batch.status.step);
    if (index < 0) return now;
    const current = batch.schedule.expectedDuration(steps[index]!) * (1 - (batch.status.phase === 'running' ? (batch.status.progress ?? 0) : 0));
    const rest = steps.slice(index + 1).reduce((sum, s) => sum + batch.schedule.expectedDuration(s), 0);
    return now + (current + rest) * 1000;
  }

  private writeStatus(final: boolean): void {
    this.statusWritten = Date.now();
    try {
      this.options.log.writeStatus('orchestrator', { ...this.status(), timeScale: this.clock.timeScale, final, pid: process.pid });
    } catch {
      // The status view is advisory; the log itself is written elsewhere and fails loudly.
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    this.em.stop();
    for (const timer of this.holdTimers.values()) timer.abort();
    for (const batch of this.batches.values()) batch.actor?.stop();
    for (const actor of this.moduleActors.values()) actor.stop();
    await this.gate.close();
  }
}

/** Where a batch stands according to its log entries. */
export function positionFromLog(schedule: ScheduleModel, entries: readonly LogEntry[]): BatchPosition {
  const hold = pendingHold(entries)?.entry;
  if (hold) return { at: 'held', step: String(hold.data.step) };
  const done = new Set(entries.filter((e) => e.type === 'step.completed' || e.type === 'step.skipped').map((e) => String(e.data.step)));
  const next = schedule.schedule.steps.find((s) => !done.has(s.id));
  return next ? { at: 'step', step: next.id } : { at: 'finishing' };
}

/** Entries that show the batch acted on an operator's answer. */
const ACTED = new Set(['step.started', 'step.skipped', 'batch.quarantined', 'batch.completed', 'transfer.completed', 'module.reserved']);

/**
 * The hold the batch must still deal with: open, or answered while no orchestrator was running (the
 * answer is in the log but nothing has acted on it yet).
 */
export function pendingHold(entries: readonly LogEntry[]): { entry: LogEntry; answered: boolean } | undefined {
  let pending: { entry: LogEntry; answered: boolean } | undefined;
  for (const e of entries) {
    if (e.type === 'hold.opened') pending = { entry: e, answered: false };
    else if (pending && e.type === 'hold.resolved') pending.answered = true;
    else if (pending?.answered && ACTED.has(e.type)) pending = undefined;
  }
  return pending;
}

/** The hold of a batch still waiting for an operator's answer, if any. */
export function openHold(entries: readonly LogEntry[]): LogEntry | undefined {
  const pending = pendingHold(entries);
  return pending && !pending.answered ? pending.entry : undefined;
}

/**
 * Records that an operator took a quarantined batch's material out by hand from where it was stuck
 * (`workcell remove`), signed by that operator; a running orchestrator frees the module when it reads this.
 */
export function recordRemoval(log: EventLog, batchId: string, removal: { reason: string }, signer: Credentials, at: number): LogEntry {
  if (!removal.reason.trim()) throw new Error('give a reason: every removal is recorded with why');
  return signed(log, signer, 'remove', at, (sign) => {
    const entries = log.stream(batchId, { withoutTelemetry: true });
    if (entries.length === 0) throw new Error(`no batch ${batchId} in ${log.file}`);
    const quarantined = entries.find((e) => e.type === 'batch.quarantined');
    if (!quarantined) throw new Error(`batch ${batchId} is not quarantined: only a quarantined batch's material is removed by hand (abort it first: workcell resolve ${batchId} --action abort)`);
    if (quarantined.data.stuck !== true) throw new Error(`batch ${batchId}'s material was moved out to ${String(quarantined.data.location)}: nothing is stuck`);
    const removed = entries.find((e) => e.type === 'material.removed');
    if (removed) throw new Error(`batch ${batchId}'s material was already removed from ${String(removed.data.from)} by ${String(removed.data.user)}`);
    const content = { batchId, from: quarantined.data.location, bagId: quarantined.data.bagId, reason: removal.reason, quarantinedEntry: quarantined.hash };
    const signature = sign(content);
    return log.append({ stream: batchId, type: 'material.removed', at, data: { from: content.from, bagId: content.bagId, reason: removal.reason, user: signature.user, signature } });
  });
}

/** Answers an open hold (from the CLI or in process), signed by the operator answering it. */
export function resolveHold(log: EventLog, batchId: string, answer: { action: HoldAction; reason: string }, signer: Credentials, at: number): LogEntry {
  if (!answer.reason.trim()) throw new Error('give a reason: every answer to a hold is recorded with why');
  return signed(log, signer, answer.action, at, (sign) => {
    const entries = log.stream(batchId);
    if (entries.length === 0) throw new Error(`no batch ${batchId} in ${log.file}`);
    const hold = openHold(entries);
    if (!hold) throw new Error(`batch ${batchId} has no open hold`);
    const offered = hold.data.actions as string[];
    if (!offered.includes(answer.action)) throw new Error(`the hold of ${batchId} offers ${offered.join(', ')}, not ${answer.action}`);
    const content = { batchId, step: hold.data.step, holdEntry: hold.hash, action: answer.action, reason: answer.reason };
    const signature = sign(content);
    return log.append({ stream: batchId, type: 'hold.resolved', at, data: { step: hold.data.step, hold: hold.streamSeq, action: answer.action, reason: answer.reason, user: signature.user, signature } });
  });
}

function unusable(module: ModuleConfig, today: string): string | undefined {
  if (module.qualification.validUntil < today) return `qualification expired on ${module.qualification.validUntil}`;
  if (module.calibration && module.calibration.validUntil < today) return `calibration expired on ${module.calibration.validUntil}`;
  return undefined;
}

function describeCondition(condition: Condition): string {
  return `${condition.result ?? condition.telemetry}${condition.below !== undefined ? ` below ${condition.below}` : ''}${condition.above !== undefined ? ` above ${condition.above}` : ''}`;
}

function round(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value * 100) / 100) : String(value);
}
