/**
 * The per-batch record: one batch's entries merged into the electronic batch record a reviewer reads.
 * Chain of identity first, then every step (module, parameters, results against limits, telemetry
 * summarised per step), transfers with their scans, environmental monitoring, alarms, deviations and
 * operator actions, in time order. Review by exception: deviations and holds are also listed up front.
 */
import type { EventLog, LogEntry } from './event-log.ts';
import { unreadPlatesByBatch } from './environmental-monitoring.ts';
import type { BatchStarted } from './entries.ts';
import { requireIndependentReviewer, signed, type Credentials, type Signature } from './signatures.ts';

export interface TelemetrySummary {
  module: string;
  channel: string;
  unit: string;
  samples: number;
  min: number;
  max: number;
  mean: number;
}

export interface StepRecord {
  step: string;
  attempts: number;
  outcome: 'completed' | 'skipped' | 'failed' | 'running';
  module?: string;
  started?: string;
  ended?: string;
  parameters?: Record<string, unknown>;
  results?: Record<string, unknown>;
  controls: Array<{ result: string; value: number; unit: string; min: number | null; max: number | null; pass: boolean }>;
  telemetry: TelemetrySummary[];
  commands: Array<{ capability: string; module: string; key: string; token?: string; outcome: string }>;
  skippedBecause?: string;
}

export interface BatchRecord {
  batchId: string;
  identity: Omit<BatchStarted, 'schedule'> & { schedule: Omit<BatchStarted['schedule'], 'text'> };
  status: 'in progress' | 'held' | 'completed' | 'quarantined';
  steps: StepRecord[];
  transfers: Array<{ at: string; arm: string; from: string; to: string; scannedAtPick: string; scannedAtPlace: string }>;
  /** Quarantined material an operator took out by hand where the robot could not. */
  removals: Array<{ at: string; from: string; user: string; reason: string; signature: Signature | null }>;
  lineClearances: Array<{ at: string; module: string; procedure: string | null; previousBatch: string | null }>;
  environmentalMonitoring: Array<Record<string, unknown>>;
  alarms: Array<{ at: string; kind: string; message: string }>;
  deviations: Array<{ at: string; kind: string; message: string }>;
  /** Answers to holds, each with its electronic signature (null only in logs written before signatures). */
  operatorActions: Array<{ at: string; action: string; step: string; reason: string; user: string; signature: Signature | null }>;
  holds: Array<{ at: string; step: string; kind: string; message: string; resolved: boolean }>;
  /** QA's signed disposition of the finished record, over the chain head it reviewed; null until then. */
  review: { at: string; decision: 'approved' | 'rejected'; reason: string; reviewedHead: string; signature: Signature } | null;
  /** Every entry, in order, for drill-down. */
  entries: number;
  firstHash: string;
  lastHash: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function buildRecord(log: EventLog, batchId: string): BatchRecord {
  const entries = log.stream(batchId);
  const startedEntry = entries.find((e) => e.type === 'batch.started');
  if (!startedEntry) throw new Error(`no batch ${batchId} in ${log.file}`);
  const started = startedEntry.data as unknown as BatchStarted;
  const { text: _text, ...schedule } = started.schedule;
  const steps = new Map<string, StepRecord & { samples: Map<string, { module: string; unit: string; values: number[] }> }>();
  const stepOf = (id: string) => {
    let step = steps.get(id);
    if (!step) {
      step = { step: id, attempts: 0, outcome: 'running', controls: [], telemetry: [], commands: [], samples: new Map() };
      steps.set(id, step);
    }
    return step;
  };
  const record: BatchRecord = {
    batchId,
    identity: { ...started, schedule },
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
    review: null,
    entries: entries.length,
    firstHash: entries[0]!.hash,
    lastHash: entries.at(-1)!.hash,
  };
  let current: string | undefined;
  const commands = new Map<string, StepRecord['commands'][number]>();
  for (const entry of entries) {
    const d = entry.data as Record<string, any>;
    switch (entry.type) {
      case 'step.started': {
        const step = stepOf(d.step);
        step.attempts = Math.max(step.attempts, d.attempt);
        step.started ??= iso(entry.at);
        step.outcome = 'running';
        current = d.step;
        break;
      }
      case 'step.completed':
        Object.assign(stepOf(d.step), { outcome: 'completed', module: d.module, parameters: d.parameters, results: d.results, ended: iso(entry.at) });
        current = undefined;
        break;
      case 'step.skipped':
        Object.assign(stepOf(d.step), { outcome: 'skipped', skippedBecause: d.reason, ended: iso(entry.at) });
        current = undefined;
        break;
      case 'step.failed':
        stepOf(d.step).outcome = 'failed';
        break;
      case 'module.reserved':
        if (current) stepOf(current).module = d.module;
        break;
      case 'control.checked':
        stepOf(current ?? d.step).controls.push({ result: d.result, value: d.value, unit: d.unit, min: d.min, max: d.max, pass: d.pass });
        break;
      case 'command.issued':
        if (current) {
          const command = { capability: d.capability, module: d.module, key: d.key, outcome: 'sent' };
          commands.set(d.key, command);
          stepOf(current).commands.push(command);
        }
        break;
      case 'command.accepted':
        if (commands.has(d.key)) commands.get(d.key)!.token = d.token?.id;
        break;
      case 'command.completed':
        if (commands.has(d.key)) commands.get(d.key)!.outcome = 'completed';
        break;
      case 'command.failed':
        if (commands.has(d.key)) commands.get(d.key)!.outcome = `failed: ${d.message}`;
        break;
      case 'telemetry':
        if (current) {
          const samples = stepOf(current).samples;
          const key = `${d.module}/${d.channel}`;
          const series = samples.get(key) ?? { module: d.module, unit: d.unit, values: [] as number[] };
          series.values.push(d.value);
          samples.set(key, series);
        }
        break;
      case 'transfer.completed':
        record.transfers.push({ at: iso(entry.at), arm: d.arm, from: d.from, to: d.to, scannedAtPick: d.scannedAtPick, scannedAtPlace: d.scannedAtPlace });
        break;
      case 'material.removed':
        record.removals.push({ at: iso(entry.at), from: d.from, user: d.user, reason: d.reason, signature: (entry.data.signature as Signature | undefined) ?? null });
        break;
      case 'line-clearance.verified':
        record.lineClearances.push({ at: iso(entry.at), module: d.module, procedure: d.procedure, previousBatch: d.previousBatch ?? null });
        break;
      case 'em.result':
        record.environmentalMonitoring.push(d);
        break;
      case 'alarm':
        record.alarms.push({ at: iso(entry.at), kind: d.kind, message: d.message });
        break;
      case 'deviation':
        record.deviations.push({ at: iso(entry.at), kind: d.kind, message: d.message });
        break;
      case 'hold.opened':
        record.holds.push({ at: iso(entry.at), step: d.step, kind: d.kind, message: d.message, resolved: false });
        break;
      case 'hold.resolved':
        record.operatorActions.push({ at: iso(entry.at), action: d.action, step: d.step, reason: d.reason, user: d.user, signature: (entry.data.signature as Signature | undefined) ?? null });
        if (record.holds.length > 0) record.holds.at(-1)!.resolved = true;
        break;
      case 'batch.completed':
        record.status = 'completed';
        break;
      case 'batch.quarantined':
        record.status = 'quarantined';
        break;
      case 'record.reviewed':
        record.review = { at: iso(entry.at), decision: d.decision as 'approved' | 'rejected', reason: d.reason, reviewedHead: d.reviewedHead, signature: entry.data.signature as Signature };
        break;
      default:
        break;
    }
  }
  if (record.status === 'in progress' && record.holds.some((h) => !h.resolved)) record.status = 'held';
  record.steps = [...steps.values()].map(({ samples, ...step }) => ({
    ...step,
    telemetry: [...samples.entries()].map(([key, s]) => ({
      module: s.module,
      channel: key.split('/')[1]!,
      unit: s.unit,
      samples: s.values.length,
      min: Math.min(...s.values),
      max: Math.max(...s.values),
      mean: s.values.reduce((a, b) => a + b, 0) / s.values.length,
    })),
  }));
  return record;
}

/** The record as a reviewer reads it on a terminal. */
export function formatRecord(record: BatchRecord): string {
  const lines: string[] = [];
  const id = record.identity;
  lines.push(`Batch record ${record.batchId}  (${record.status})`);
  const review = record.review;
  lines.push(review ? `  Review: ${review.decision.toUpperCase()} (${review.reason})` : '  Review: not reviewed yet');
  if (review) lines.push(signatureLine(review.signature));
  lines.push(`  Patient ${id.patient}   chain of identity ${id.chainOfIdentity}   starting material ${id.bagId}   lane ${id.lane}`);
  lines.push(`  Layout ${id.layout.id}${id.layout.contentHash ? ` (sha256 ${id.layout.contentHash.slice(0, 16)}…)` : ''}   schedule ${id.schedule.id} v${id.schedule.version} (sha256 ${id.schedule.contentHash.slice(0, 16)}…)`);
  lines.push(`  ${record.entries} log entries, chain ${record.firstHash.slice(0, 12)}… → ${record.lastHash.slice(0, 12)}…`);
  lines.push('');
  lines.push(`Review by exception: ${record.deviations.length} deviation(s), ${record.alarms.length} alarm(s), ${record.operatorActions.length + record.removals.length} operator action(s)`);
  for (const d of record.deviations) lines.push(`  DEVIATION ${d.at} ${d.kind}: ${d.message}`);
  for (const h of record.holds) lines.push(`  HOLD      ${h.at} ${h.step} (${h.kind})${h.resolved ? '' : ' OPEN'}: ${h.message}`);
  for (const a of record.operatorActions) lines.push(`  OPERATOR  ${a.at} ${a.user}: ${a.action} ${a.step}: ${a.reason}`, signatureLine(a.signature));
  for (const r of record.removals) lines.push(`  OPERATOR  ${r.at} ${r.user}: removed the material from ${r.from} by hand: ${r.reason}`, signatureLine(r.signature));
  lines.push('');
  lines.push('Steps');
  for (const step of record.steps) {
    lines.push(`  ${step.step.padEnd(14)} ${step.outcome.padEnd(9)} ${step.module ?? '-'}  ${step.started ?? ''} → ${step.ended ?? ''}${step.attempts > 1 ? `  (${step.attempts} attempts)` : ''}${step.skippedBecause ? `  ${step.skippedBecause}` : ''}`);
    if (step.parameters) lines.push(`      parameters ${formatValues(step.parameters)}`);
    if (step.results) lines.push(`      results    ${formatValues(step.results)}`);
    for (const c of step.controls) lines.push(`      control    ${c.result} ${round(c.value)} ${c.unit} ${c.min !== null ? `>= ${c.min}` : ''}${c.max !== null ? ` <= ${c.max}` : ''}: ${c.pass ? 'pass' : 'FAIL'}`);
    for (const t of step.telemetry) lines.push(`      telemetry  ${t.module} ${t.channel}: min ${round(t.min)} max ${round(t.max)} mean ${round(t.mean)} ${t.unit} (${t.samples} samples)`);
  }
  lines.push('');
  lines.push('Chain of custody');
  for (const t of record.transfers) lines.push(`  ${t.at} ${t.arm}: ${t.from} → ${t.to}, scanned ${t.scannedAtPick} / ${t.scannedAtPlace}`);
  for (const r of record.removals) lines.push(`  ${r.at} by hand (${r.user}): out of ${r.from}`);
  for (const c of record.lineClearances) lines.push(`  ${c.at} line clearance of ${c.module} (${c.procedure ?? 'no SOP named'}) after ${c.previousBatch ?? '-'}`);
  lines.push('');
  lines.push('Environmental monitoring');
  if (record.environmentalMonitoring.length === 0) lines.push('  (no settle plate read for this batch yet)');
  for (const em of record.environmentalMonitoring) {
    const exposure = em.exposure as { from: string; until: string };
    lines.push(`  ${em.plateId} at ${em.location} (${em.zone}, grade ${em.grade}) ${exposure.from} → ${exposure.until}: ${em.colonies} CFU, limit ${em.limit}: ${em.withinLimit ? 'within limit' : 'OVER LIMIT'}`);
  }
  if (record.alarms.length > 0) {
    lines.push('');
    lines.push('Alarms');
    for (const a of record.alarms) lines.push(`  ${a.at} ${a.kind}: ${a.message}`);
  }
  return `${lines.join('\n')}\n`;
}

function formatValues(values: Record<string, unknown>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? round(v) : String(v)}`)
    .join(' ');
}

/** The manifestation 21 CFR 11.50 asks for: printed name, date and time, meaning; and what was signed. */
function signatureLine(signature: Signature | null): string {
  if (!signature) return '            (not signed)';
  return `            signed by ${signature.printedName} (${signature.user}) at ${signature.signedAt}, meaning ${signature.meaning}; content sha256 ${signature.contentHash.slice(0, 16)}…`;
}

/** A measured value for reading: three decimals at most, exponent notation from 100,000. */
export function round(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1e5) return value.toExponential(3);
  return String(Math.round(value * 1000) / 1000);
}

/**
 * QA's review of a finished batch's record, signed over the chain head it saw: approved for release,
 * or rejected. Once per batch; only when every settle plate exposed during the batch has been read.
 */
export function reviewRecord(log: EventLog, batchId: string, review: { decision: 'approved' | 'rejected'; reason: string }, signer: Credentials, at: number): LogEntry {
  if (!review.reason.trim()) throw new Error('give a reason: a review is recorded with why');
  return signed(log, signer, review.decision === 'approved' ? 'approve' : 'reject', at, (sign) => {
    const record = buildRecord(log, batchId);
    if (record.status !== 'completed' && record.status !== 'quarantined') throw new Error(`batch ${batchId} is ${record.status}: only a finished batch's record is reviewed`);
    if (record.review) throw new Error(`the record of ${batchId} was reviewed already: ${record.review.decision} by ${record.review.signature.user} at ${record.review.signature.signedAt}`);
    requireIndependentReviewer(log, batchId, signer, review.decision === 'approved' ? 'approve' : 'reject');
    if (record.status === 'quarantined' && review.decision === 'approved') throw new Error(`batch ${batchId} is quarantined: its record can be rejected, not approved for release`);
    const blockers = reviewBlockers(log, batchId, unreadPlatesByBatch(log));
    if (blockers.length > 0) throw new Error(`the record of ${batchId} is not complete: waiting for ${blockers.join(' and ')}`);
    const signature = sign({ batchId, decision: review.decision, reason: review.reason, reviewedHead: record.lastHash });
    return log.append({ stream: batchId, type: 'record.reviewed', at, data: { decision: review.decision, reason: review.reason, reviewedHead: record.lastHash, user: signature.user, signature } });
  });
}

/** Finished batches whose record QA has not reviewed yet, and what a review still waits for. */
export function awaitingReview(log: EventLog): Array<{ batchId: string; status: 'completed' | 'quarantined'; waitingFor: string[] }> {
  const reviewed = new Set(log.ofType('record.reviewed').map((e) => e.stream));
  const finished = [...log.ofType('batch.completed'), ...log.ofType('batch.quarantined')].sort((a, b) => a.seq - b.seq);
  const unread = unreadPlatesByBatch(log);
  return finished
    .filter((e) => !reviewed.has(e.stream))
    .map((e) => ({ batchId: e.stream, status: e.type === 'batch.completed' ? ('completed' as const) : ('quarantined' as const), waitingFor: reviewBlockers(log, e.stream, unread) }));
}

/** What the record of a finished batch still waits for before review: settle plates read, stuck material removed. */
function reviewBlockers(log: EventLog, batchId: string, unreadPlates: ReadonlyMap<string, string[]>): string[] {
  const entries = log.stream(batchId, { withoutTelemetry: true });
  const stuck = entries.find((e) => e.type === 'batch.quarantined' && e.data.stuck === true);
  const unread = unreadPlates.get(batchId) ?? [];
  return [
    ...(unread.length > 0 ? [`settle plate(s) ${unread.join(', ')} exposed while it was open to be read`] : []),
    ...(stuck && !entries.some((e) => e.type === 'material.removed') ? [`its material in ${String(stuck.data.location)} to be removed (workcell remove)`] : []),
  ];
}
