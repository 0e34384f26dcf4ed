/**
 * Building a batch's record from its entries: chain of identity, every step (module, parameters and
 * results with their units, controls, telemetry, and the recurring work that ran under it), transfers
 * with their scans, environmental monitoring, alarms, deviations, operator actions, interruptions and
 * reconciliations, and a timeline. Times stay ISO 8601 here (and in the JSON record); printing decides
 * how to show them.
 */
import { checkedEntries, type EventLog } from './event-log.ts';
import type { StoredRow } from './log-entry.ts';
import { isEntry, isKnownEntryType, type BatchStarted, type EntryData } from './entries.ts';
import type { Signature } from './signatures.ts';
import { requestProblem } from './record-request.ts';
import { scheduleFacts } from './record-schedule.ts';
import { TelemetryCollector, type TelemetrySummary } from './record-telemetry.ts';
import { describeData, timelineSummary } from './record-timeline.ts';

export type { TelemetrySummary } from './record-telemetry.ts';

export interface ControlOutcome {
  at: string;
  result: string;
  /** null: the result was not reported as a finite number. */
  value: number | null;
  unit: string;
  min: number | null;
  max: number | null;
  pass: boolean;
}

/** One run of recurring work (`during`: a daily sample, a feed) under its step. */
export interface RecurringRecord {
  work: string;
  capability: string | null;
  module: string;
  key: string;
  issued: string;
  ended?: string;
  outcome: string;
  parameters: Record<string, unknown>;
  parameterUnits: Record<string, string>;
  results?: Record<string, unknown>;
  resultUnits: Record<string, string>;
  controls: ControlOutcome[];
}

export interface Approver {
  user: string;
  printedName: string;
}

export interface StepRecord {
  step: string;
  name?: string;
  capability?: string;
  attempts: number;
  /**
   * `skipped`: never ran (its condition was not met, or an operator skipped it before it started);
   * `failed-controls-skipped`: ran, failed its controls, and QA let the batch go on without them;
   * `incomplete-skipped`: started, did not complete, and QA let the batch go on without it.
   */
  outcome: 'completed' | 'skipped' | 'failed' | 'running' | 'failed-controls-skipped' | 'incomplete-skipped';
  module?: string;
  started?: string;
  ended?: string;
  parameters?: Record<string, unknown>;
  parameterUnits: Record<string, string>;
  results?: Record<string, unknown>;
  resultUnits: Record<string, string>;
  controls: ControlOutcome[];
  telemetry: TelemetrySummary[];
  commands: Array<{ capability: string; module: string; key: string; token?: string; outcome: string }>;
  recurring: RecurringRecord[];
  skippedBecause?: string;
  /** A step that ran and was skipped: the controls it failed, why it did not complete, who approved going on. */
  continued?: { failedControls: Array<{ result: string; value: number | null; unit: string; min: number | null; max: number | null }>; why?: string; approvedBy: Approver | null };
}

export interface BatchRecord {
  batchId: string;
  identity: Omit<BatchStarted, 'schedule'> & { schedule: Omit<BatchStarted['schedule'], 'text'> };
  /** When the batch started: the day the printed record's times refer to. */
  started: string;
  status: 'in progress' | 'held' | 'completed' | 'quarantined';
  steps: StepRecord[];
  transfers: Array<{ at: string; arm: string; from: string; to: string; scannedAtPick: string; scannedAtPlace: string }>;
  /** Quarantined material an operator took out by hand where the robot could not. */
  removals: Array<{ at: string; from: string; user: string; reason: string; signature: Signature | null }>;
  lineClearances: Array<{ at: string; module: string; procedure: string | null; previousBatch: string | null }>;
  environmentalMonitoring: Array<EntryData<'em.result'>>;
  alarms: Array<{ at: string; kind: string; message: string; module?: string; step?: string }>;
  /** Departures from the process, device faults among them (`device-fault`, with the module's error code). */
  deviations: Array<{ at: string; kind: string; message: string; module?: string; step?: string; code?: string }>;
  /** Answers to holds, each with its electronic signature (null only in logs written before signatures). */
  operatorActions: Array<{ at: string; action: string; step: string; reason: string; user: string; signature: Signature | null }>;
  holds: Array<{ at: string; step: string; kind: string; message: string; resolved: boolean }>;
  /** The orchestrator stopped (or crashed) while the batch ran, and took it up again. */
  interruptions: Array<{ at: string; event: 'interrupted' | 'resumed'; afterCrash: boolean | null; runId: string | null; message: string }>;
  /** Where a module's actual state differed from what Workcell believed, and what was done about it. */
  reconciliations: Array<{ at: string; module: string; believed: string | null; actual: string; action: string; message: string }>;
  /** Entries of types this version of Workcell does not know: kept, summarised from their data. */
  unrecognised: Array<{ at: string; type: string; summary: string }>;
  /**
   * Entries whose data their type's schema does not allow (the database was changed outside Workcell, or
   * written by a later format): named, and left out of everything above rather than read as what they are not.
   */
  invalid: Array<{ at: string; type: string; streamSeq: number; problem: string }>;
  timeline: Array<{ at: string; type: string; summary: string }>;
  /** QA's signed disposition of the finished record, over the chain head it reviewed; null until then. */
  review: { at: string; decision: 'approved' | 'rejected'; reason: string; reviewedHead: string; signature: Signature } | null;
  /** Every entry, in order, for drill-down. */
  entries: number;
  firstHash: string;
  lastHash: string;
}

type StepState = StepRecord & { samples: TelemetryCollector; lastCommand?: { parameters?: Record<string, unknown>; results?: Record<string, unknown> }; lastFailure?: string };

const iso = (ms: number) => new Date(ms).toISOString();
/** The fields given (neither undefined nor null). */
const present = (fields: Record<string, string | null | undefined>): Record<string, string> => Object.fromEntries(Object.entries(fields).filter((field): field is [string, string] => typeof field[1] === 'string'));

/** `rows`: the batch's stream as stored, when the caller has read it already (the web API verifies its chain too). */
export function buildRecord(log: EventLog, batchId: string, rows: readonly StoredRow[] = log.rows(batchId)): BatchRecord {
  const { entries, invalid } = checkedEntries(rows);
  const startedEntry = entries.find(isEntry('batch.started'));
  if (!startedEntry) throw invalid.find((i) => i.entry.type === 'batch.started') ?? new Error(`no batch ${batchId} in ${log.file}`);
  // A request the log does not confirm is an integrity problem of the record, and its signature is not shown.
  const unconfirmed = startedEntry.data.request && requestProblem(log, batchId, startedEntry.data.request);
  const { request: _claimed, ...withoutRequest } = startedEntry.data;
  const started: BatchStarted = unconfirmed ? withoutRequest : startedEntry.data;
  const { text: _text, ...schedule } = started.schedule;
  const facts = scheduleFacts(started);
  const steps = new Map<string, StepState>();
  const stepOf = (id: string): StepState => {
    let step = steps.get(id);
    if (!step) {
      step = { step: id, name: facts.name(id), capability: facts.capabilityOf(id), attempts: 0, outcome: 'running', parameterUnits: {}, resultUnits: {}, controls: [], telemetry: [], commands: [], recurring: [], samples: new TelemetryCollector() };
      steps.set(id, step);
    }
    return step;
  };
  const record: BatchRecord = {
    batchId,
    identity: { ...started, schedule },
    started: iso(startedEntry.at),
    status: 'in progress',
    steps: [],
    transfers: [],
    removals: [],
    lineClearances: [],
    environmentalMonitoring: [],
    alarms: [],
    deviations: [],
    operatorActions: [],
    holds: [],
    interruptions: [],
    reconciliations: [],
    unrecognised: [],
    invalid: [
      ...invalid.map(({ entry, problem }) => ({ at: iso(entry.at), type: entry.type, streamSeq: entry.streamSeq, problem: `its data ${problem}` })),
      ...(unconfirmed ? [{ at: iso(startedEntry.at), type: startedEntry.type, streamSeq: startedEntry.streamSeq, problem: `${unconfirmed}; its signature is not shown as the batch's request` }] : []),
    ],
    timeline: [],
    review: null,
    entries: rows.length,
    firstHash: rows[0]!.hash,
    lastHash: rows.at(-1)!.hash,
  };
  // A batch started from a signed request (the web API, an MES): the request is its first signed act.
  const request = started.request;
  if (request) record.operatorActions.push({ at: iso(request.at), action: 'asked for the batch to be started', step: '', reason: request.reason, user: request.signature.user, signature: request.signature });
  let current: string | undefined;
  // Each command by idempotency key: its line in the step's command list, and whose work it was.
  const commands = new Map<string, { command: StepRecord['commands'][number]; step?: StepState; occurrence?: RecurringRecord }>();
  for (const entry of entries) {
    // Samples, nearly every entry of a batch, only go into their step's summary: nothing else to read.
    if (entry.type === 'telemetry') {
      const d = entry.data;
      if (current) stepOf(current).samples.add(d.module, d.channel, d.unit, entry.at, d.value);
      continue;
    }
    const at = iso(entry.at);
    const summary = timelineSummary(entry === startedEntry ? { type: entry.type, data: started } : entry);
    if (summary !== undefined) record.timeline.push({ at, type: entry.type, summary });
    if (!isKnownEntryType(entry.type)) record.unrecognised.push({ at, type: entry.type, summary: describeData(entry.data) });
    switch (entry.type) {
      case 'step.started': {
        const d = entry.data;
        const step = stepOf(d.step);
        step.attempts = Math.max(step.attempts, d.attempt);
        step.started ??= at;
        step.outcome = 'running';
        current = d.step;
        break;
      }
      case 'step.completed': {
        const d = entry.data;
        Object.assign(stepOf(d.step), {
          outcome: 'completed',
          module: d.module,
          parameters: d.parameters,
          results: d.results,
          parameterUnits: { ...facts.parameterUnits(d.step), ...d.parameterUnits },
          resultUnits: { ...facts.resultUnits(d.step), ...d.resultUnits },
          ended: at,
        });
        current = undefined;
        break;
      }
      case 'step.skipped':
        skipped(stepOf(entry.data.step), entry.data, at);
        current = undefined;
        break;
      case 'step.failed': {
        const step = stepOf(entry.data.step);
        step.outcome = 'failed';
        step.lastFailure = entry.data.message;
        break;
      }
      case 'module.reserved':
        if (current) stepOf(current).module = entry.data.module;
        break;
      case 'control.checked': {
        const d = entry.data;
        const control: ControlOutcome = { at, result: d.result, value: d.value, unit: d.unit, min: d.min, max: d.max, pass: d.pass };
        const parent = d.parentStep ?? facts.parentOf(d.step);
        const occurrence = parent ? lastOf(stepOf(parent).recurring, (r) => r.work === d.step) : undefined;
        if (occurrence) occurrence.controls.push(control);
        else stepOf(parent ?? current ?? d.step).controls.push(control);
        break;
      }
      case 'command.issued': {
        const d = entry.data;
        const command = { capability: d.capability, module: d.module, key: d.key, outcome: 'sent' };
        const parent: string | undefined = d.parentStep ?? facts.parentOf(d.step);
        const owner = parent ?? current;
        const step = owner ? stepOf(owner) : undefined;
        step?.commands.push(command);
        let occurrence: RecurringRecord | undefined;
        if (parent && step) {
          occurrence = { work: d.step, capability: facts.capabilityOf(d.step) ?? null, module: d.module, key: d.key, issued: at, outcome: 'sent', parameters: d.parameters, parameterUnits: facts.parameterUnits(d.step), resultUnits: facts.resultUnits(d.step), controls: [] };
          step.recurring.push(occurrence);
        } else if (step && d.step === step.step) step.lastCommand = { parameters: d.parameters };
        commands.set(d.key, { command, step: step && d.step === step.step ? step : undefined, occurrence });
        break;
      }
      case 'command.accepted': {
        const known = commands.get(entry.data.key);
        if (known) known.command.token = entry.data.token.id;
        break;
      }
      case 'command.completed': {
        const d = entry.data;
        const known = commands.get(d.key);
        if (!known) break;
        known.command.outcome = 'completed';
        if (known.occurrence) Object.assign(known.occurrence, { results: d.results, resultUnits: { ...known.occurrence.resultUnits, ...d.resultUnits }, ended: at, outcome: 'completed' });
        else if (known.step?.lastCommand) known.step.lastCommand.results = d.results;
        break;
      }
      case 'command.failed': {
        const d = entry.data;
        const known = commands.get(d.key);
        if (!known) break;
        known.command.outcome = `failed: ${d.message}`;
        if (known.occurrence) Object.assign(known.occurrence, { ended: at, outcome: `failed: ${d.message}` });
        if (known.step) known.step.lastFailure = d.message;
        break;
      }
      case 'transfer.completed': {
        const d = entry.data;
        record.transfers.push({ at, arm: d.arm, from: d.from, to: d.to, scannedAtPick: d.scannedAtPick, scannedAtPlace: d.scannedAtPlace });
        break;
      }
      case 'material.removed': {
        const d = entry.data;
        record.removals.push({ at, from: d.from, user: d.user, reason: d.reason, signature: d.signature ?? null });
        break;
      }
      case 'line-clearance.verified': {
        const d = entry.data;
        record.lineClearances.push({ at, module: d.module, procedure: d.procedure, previousBatch: d.previousBatch });
        break;
      }
      case 'em.result':
        record.environmentalMonitoring.push(entry.data);
        break;
      case 'alarm': {
        const d = entry.data;
        record.alarms.push({ at, kind: d.kind, message: d.message, ...present({ module: d.module, step: d.step }) });
        break;
      }
      case 'deviation': {
        const d = entry.data;
        record.deviations.push({ at, kind: d.kind, message: d.message, ...present({ module: d.module, step: d.step, code: d.code }) });
        break;
      }
      case 'command.recoverable-error': {
        const d = entry.data;
        // A device error the batch held for is an exception a reviewer must see, whatever was chosen after.
        record.alarms.push({ at, kind: 'device-recoverable-error', message: `${d.module}: ${d.message} (the device offered ${d.options.map((o) => o.identifier).join(', ')})`, module: d.module });
        break;
      }
      case 'command.cancelled': {
        const d = entry.data;
        record.alarms.push({ at, kind: 'command-cancelled', message: `${d.module}: command ${d.key} ${d.cancelled === false ? 'could not be cancelled' : 'cancelled'}: ${d.reason}`, module: d.module });
        break;
      }
      case 'module.reconciled': {
        const d = entry.data;
        record.reconciliations.push({ at, module: d.module, believed: d.believed, actual: d.actual, action: d.action, message: d.message });
        break;
      }
      case 'batch.interrupted':
        record.interruptions.push({ at, event: 'interrupted', afterCrash: null, runId: null, message: entry.data.message });
        break;
      case 'batch.resumed':
        record.interruptions.push({ at, event: 'resumed', afterCrash: entry.data.afterCrash, runId: entry.data.runId, message: entry.data.message });
        break;
      case 'hold.opened': {
        const d = entry.data;
        record.holds.push({ at, step: d.step, kind: d.kind, message: d.message, resolved: false });
        break;
      }
      case 'hold.resolved': {
        const d = entry.data;
        record.operatorActions.push({ at, action: d.option ? `${d.action} with the device's option ${d.option}` : d.action, step: d.step, reason: d.reason, user: d.user, signature: d.signature ?? null });
        if (record.holds.length > 0) record.holds.at(-1)!.resolved = true;
        break;
      }
      case 'hold.requested': {
        const d = entry.data;
        record.operatorActions.push({ at, action: 'hold at the next safe point', step: '', reason: d.reason, user: d.user, signature: d.signature ?? null });
        break;
      }
      case 'batch.completed':
        record.status = 'completed';
        break;
      case 'batch.quarantined':
        record.status = 'quarantined';
        break;
      case 'record.reviewed': {
        const d = entry.data;
        record.review = { at, decision: d.decision, reason: d.reason, reviewedHead: d.reviewedHead, signature: d.signature };
        break;
      }
      default:
        break;
    }
  }
  if (record.status === 'in progress' && record.holds.some((h) => !h.resolved)) record.status = 'held';
  record.steps = [...steps.values()].map(({ samples, lastCommand: _command, lastFailure: _failure, ...step }) => ({
    ...step,
    telemetry: samples.summaries((channel, unit) => facts.telemetryLimits(step.step, channel, unit)),
  }));
  return record;

  /**
   * A skip. Only a step that never ran is `skipped`; one that ran keeps what it did (parameters,
   * results, controls) and says who approved going on without it.
   */
  function skipped(step: StepState, d: EntryData<'step.skipped'>, at: string): void {
    step.ended = at;
    if (d.ran !== true) {
      Object.assign(step, { outcome: 'skipped', skippedBecause: d.reason });
      return;
    }
    const results = d.results ?? step.lastCommand?.results;
    step.parameters = d.parameters ?? facts.parameters(step.step) ?? step.lastCommand?.parameters;
    step.parameterUnits = facts.parameterUnits(step.step);
    step.resultUnits = facts.resultUnits(step.step);
    if (results) step.results = results;
    const failedControls = d.failedControls ?? step.controls.filter((c) => !c.pass).map(({ result, value, unit, min, max }) => ({ result, value, unit, min, max }));
    const answer = lastOf(record.operatorActions, (a) => a.step === step.step && a.action === 'skip');
    const approvedBy = d.approvedBy ?? (answer?.signature ? { user: answer.signature.user, printedName: answer.signature.printedName } : null);
    const hadResults = results !== undefined || failedControls.length > 0;
    step.outcome = hadResults ? 'failed-controls-skipped' : 'incomplete-skipped';
    step.continued = { failedControls, approvedBy, ...(hadResults ? {} : { why: step.lastFailure ?? d.reason }) };
  }
}

function lastOf<T>(items: readonly T[], predicate: (item: T) => boolean): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i]!)) return items[i];
  return undefined;
}
