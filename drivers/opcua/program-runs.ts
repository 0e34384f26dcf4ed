/**
 * LADS program runs followed to their outcome. Completion is read from the unit's ResultSet: a result
 * whose DeviceProgramRunId is the run's (or, for devices that leave that optional id out, whose
 * supervisory job and task ids are the run's). Checked on every state change, after every
 * reconnection, and once a second while runs are pending, so a completion that happened while
 * disconnected is still seen, and seen once.
 */
import type { NodeBrowser } from './browse.ts';
import { OpcUaError } from './connection.ts';
import { LADS_URI, type LadsUnits } from './lads-units.ts';
import type { Clock, Timer } from '../clock.ts';

export interface ProgramOutcome {
  runId: string;
  /** Values of the result's VariableSet. */
  values: Record<string, number>;
  supervisoryJobId: string;
  supervisoryTaskId: string;
  description: string;
  started: Date | undefined;
  stopped: Date | undefined;
}

export interface SupervisoryIds {
  supervisoryJobId?: string;
  supervisoryTaskId?: string;
}

interface PendingRun extends SupervisoryIds {
  unitRef: string;
  resolve: (outcome: ProgramOutcome) => void;
  reject: (error: Error) => void;
}

export class ProgramRuns {
  private readonly pending = new Map<string, PendingRun>();
  private watcher: Timer | undefined;
  private checking = false;
  private closed = false;

  constructor(private readonly browser: NodeBrowser, private readonly units: LadsUnits, private readonly clock: Clock) {}

  /** The outcome of a run, settled exactly once however often it is asked for. */
  follow(unitRef: string, runId: string, supervisory: SupervisoryIds = {}): Promise<ProgramOutcome> {
    const existing = this.pending.get(runId);
    if (existing) return new Promise((resolve, reject) => this.pending.set(runId, { ...existing, resolve: (o) => (existing.resolve(o), resolve(o)), reject: (e) => (existing.reject(e), reject(e)) }));
    const outcome = new Promise<ProgramOutcome>((resolve, reject) => this.pending.set(runId, { unitRef, ...supervisory, resolve, reject }));
    this.watch();
    void this.check();
    return outcome;
  }

  /** Every pending run fails: the driver is closing. */
  close(): void {
    this.closed = true;
    this.clock.clearTimeout(this.watcher);
    for (const [runId, run] of this.pending) run.reject(new OpcUaError(`the driver closed before program run ${runId} finished`));
    this.pending.clear();
  }

  private watch(): void {
    if (this.watcher) return;
    this.watcher = this.clock.poll(() => void this.check(), 1000);
  }

  /** Looks for the results of pending runs; quiet when not connected, as the next check or the reconnection tries again. */
  async check(): Promise<void> {
    if (this.checking || this.closed || !this.pending.size) {
      if (!this.pending.size && this.watcher) {
        this.clock.clearTimeout(this.watcher);
        this.watcher = undefined;
      }
      return;
    }
    this.checking = true;
    try {
      const byUnit = new Map<string, string[]>();
      for (const [runId, run] of this.pending) byUnit.set(run.unitRef, [...(byUnit.get(run.unitRef) ?? []), runId]);
      for (const [unitRef, runIds] of byUnit) {
        const outcomes = await this.results(unitRef, runIds.map((runId) => ({ runId, ...this.pending.get(runId) })));
        for (const outcome of outcomes) {
          const run = this.pending.get(outcome.runId);
          if (!run) continue;
          this.pending.delete(outcome.runId);
          run.resolve(outcome);
        }
      }
    } catch {
      // not connected right now: the next check, or the reconnection, tries again
    } finally {
      this.checking = false;
    }
  }

  /**
   * Results in the unit's ResultSet for the given runs: by DeviceProgramRunId, or, for results without
   * it, by the supervisory job and task ids the run was started with.
   */
  async results(unitRef: string, runs: Array<{ runId: string } & SupervisoryIds>): Promise<ProgramOutcome[]> {
    const b = this.browser;
    const nodes = (await this.units.nodes(unitRef))!;
    if (!nodes.resultSet) return [];
    const outcomes: ProgramOutcome[] = [];
    for (const result of await b.children(nodes.resultSet)) {
      if (result.name === 'NodeVersion') continue;
      const ids = await Promise.all(['DeviceProgramRunId', 'SupervisoryJobId', 'SupervisoryTaskId', 'Description', 'Started', 'Stopped'].map((p) => b.resolve(result.nodeId, [[LADS_URI, p]])));
      const [deviceRunId, jobId, taskId, description, started, stopped] = await b.readValues(ids);
      const run = runs.find((r) =>
        deviceRunId ? r.runId === String(deviceRunId) : r.supervisoryJobId !== undefined && r.supervisoryJobId === String(jobId ?? '') && r.supervisoryTaskId === String(taskId ?? ''),
      );
      if (!run) continue;
      const runId = run.runId;
      const variableSet = await b.resolve(result.nodeId, [[LADS_URI, 'VariableSet']]);
      const values: Record<string, number> = {};
      if (variableSet) {
        const variables = (await b.children(variableSet)).filter((v) => v.name !== 'NodeVersion');
        const read = await b.readValues(variables.map((v) => v.nodeId));
        variables.forEach((v, i) => (values[v.name] = Number(read[i])));
      }
      outcomes.push({
        runId: String(runId),
        values,
        supervisoryJobId: String(jobId ?? ''),
        supervisoryTaskId: String(taskId ?? ''),
        description: String(description ?? ''),
        started: started instanceof Date ? started : undefined,
        stopped: stopped instanceof Date ? stopped : undefined,
      });
    }
    return outcomes;
  }
}
