/**
 * Simulated LADS devices as plain state, independent of any OPC UA server: programs that run on their
 * own, their results, sensor values. The OPC UA server (lads-server.ts) is only their interface, so a
 * restarted endpoint leaves running programs running and keeps their results.
 */
import { randomUUID } from 'node:crypto';
import { StatusCodes } from 'node-opcua';
import type { Clock } from '../clock.ts';

export interface SensorSpec {
  name: string;
  unit: string;
  initial: number;
}

export interface ProgramContext {
  templateId: string;
  properties: Record<string, string>;
  supervisoryJobId: string;
  supervisoryTaskId: string;
  runId: string;
  /** Aborted by Stop or Abort. */
  signal: AbortSignal;
  step(name: string, number: number): void;
  sensor(name: string, value: number): void;
}

export interface FunctionalUnitSpec {
  name: string;
  programTemplates: Array<{ id: string; description: string }>;
  sensors: SensorSpec[];
  /** Runs a program; resolves with its result values (name -> number), or rejects when stopped. */
  run(context: ProgramContext): Promise<Record<string, number>>;
  estimatedRuntimeSeconds(templateId: string, properties: Record<string, string>): number;
}

export interface DeviceSpec {
  name: string;
  manufacturer: string;
  model: string;
  serialNumber: string;
  softwareRevision: string;
  functionalUnits: FunctionalUnitSpec[];
}

export type LadsState = 'Stopped' | 'Running' | 'Stopping' | 'Aborting' | 'Aborted' | 'Clearing';

export interface ProgramResult {
  runId: string;
  templateId: string;
  supervisoryJobId: string;
  supervisoryTaskId: string;
  properties: Record<string, string>;
  started: Date;
  stopped: Date;
  values: Record<string, number>;
  /** Why the program ended: completed normally, stopped, aborted, or failed (with `error`). */
  outcome: 'completed' | 'stopped' | 'aborted' | 'failed';
  error?: string;
}

/** The live state of one functional unit, independent of any OPC UA server. */
export class FunctionalUnitModel {
  state: LadsState = 'Stopped';
  activeRun: { runId: string; templateId: string; startedAt: number; estimatedSeconds: number; stepName: string; stepNumber: number; abort: AbortController; how?: 'stopped' | 'aborted' } | undefined;
  readonly results: ProgramResult[] = [];
  readonly sensors = new Map<string, number>();
  readonly changed = new Set<() => void>();

  constructor(readonly spec: FunctionalUnitSpec, private readonly clock: Clock) {
    for (const s of spec.sensors) this.sensors.set(s.name, s.initial);
  }

  notify(): void {
    for (const listener of this.changed) listener();
  }

  setState(state: LadsState): void {
    this.state = state;
    this.notify();
  }

  /** StartProgram: refuses unless Stopped; the program then runs on its own. */
  start(templateId: string, properties: Record<string, string>, supervisoryJobId: string, supervisoryTaskId: string): string {
    if (this.state !== 'Stopped') throw Object.assign(new Error(`functional unit ${this.spec.name} is ${this.state}`), { status: StatusCodes.BadInvalidState });
    if (!this.spec.programTemplates.some((t) => t.id === templateId)) throw Object.assign(new Error(`no program template '${templateId}'`), { status: StatusCodes.BadInvalidArgument });
    const runId = randomUUID();
    const abort = new AbortController();
    const run = { runId, templateId, startedAt: this.clock.now(), estimatedSeconds: this.spec.estimatedRuntimeSeconds(templateId, properties), stepName: 'starting', stepNumber: 0, abort } as NonNullable<FunctionalUnitModel['activeRun']>;
    this.activeRun = run;
    this.setState('Running');
    const context: ProgramContext = {
      templateId, properties, supervisoryJobId, supervisoryTaskId, runId, signal: abort.signal,
      step: (name, number) => {
        run.stepName = name;
        run.stepNumber = number;
        this.notify();
      },
      sensor: (name, value) => {
        this.sensors.set(name, value);
        this.notify();
      },
    };
    const finish = (values: Record<string, number>, outcome: ProgramResult['outcome'], error?: string) => {
      this.results.push({ runId, templateId, supervisoryJobId, supervisoryTaskId, properties, started: new Date(run.startedAt), stopped: new Date(this.clock.now()), values, outcome, error });
      this.activeRun = undefined;
      this.setState(outcome === 'aborted' || outcome === 'failed' ? 'Aborted' : 'Stopped');
    };
    this.spec.run(context).then(
      (values) => finish(values, run.how ?? 'completed'),
      (error: Error) => finish({}, run.how ?? 'failed', run.how ? undefined : error.message),
    );
    return runId;
  }

  stop(how: 'stopped' | 'aborted'): void {
    if (!this.activeRun) throw Object.assign(new Error(`nothing runs on ${this.spec.name}`), { status: StatusCodes.BadInvalidState });
    this.activeRun.how = how;
    this.setState(how === 'aborted' ? 'Aborting' : 'Stopping');
    this.activeRun.abort.abort();
  }

  clear(): void {
    if (this.state !== 'Aborted') throw Object.assign(new Error(`Clear applies to Aborted, not ${this.state}`), { status: StatusCodes.BadInvalidState });
    this.setState('Clearing');
    this.clock.setTimeout(() => this.setState('Stopped'), 50);
  }
}

export class DeviceModel {
  readonly units: FunctionalUnitModel[];
  constructor(readonly spec: DeviceSpec, clock: Clock) {
    this.units = spec.functionalUnits.map((u) => new FunctionalUnitModel(u, clock));
  }
}
