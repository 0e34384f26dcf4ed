/**
 * The batch record as a reviewer reads it on a terminal. Times are UTC, dated where the day differs
 * from the day the batch started; values carry their units at a precision that means something.
 * Every string a person or a device supplied goes through `printable`, so a reason with a newline
 * cannot forge a "signed by" line and an escape sequence cannot repaint the screen.
 */
import { timeOfDay } from '../drivers/clock.ts';
import { printable } from '../config/printable.ts';
import { formatLimits, formatValue } from './quantity-format.ts';
import type { BatchRecord, ControlOutcome, StepRecord } from './record-build.ts';
import { describeOutcome } from './record-outcome.ts';
import type { TelemetrySummary } from './record-telemetry.ts';
import type { Signature } from './signatures.ts';

/** Shown text from the record's data: never a control character. */
const t = (value: unknown): string => printable(value === undefined || value === null ? '' : String(value));
/** A value with its unit (the unit may come from a device too). */
const v = (value: unknown, unit?: string): string => t(formatValue(value, unit));
const limits = (min: number | null, max: number | null, unit: string): string => t(formatLimits(min, max, unit));

export function formatRecord(record: BatchRecord): string {
  const reference = Date.parse(record.started);
  const time = (at: string | undefined) => (at ? timeOfDay(Date.parse(at), reference) : '-');
  const lines: string[] = [];
  const id = record.identity;
  lines.push(`Batch record ${t(record.batchId)}  (${record.status})`);
  const review = record.review;
  lines.push(review ? `  Review: ${t(review.decision).toUpperCase()} (${t(review.reason)})` : '  Review: not reviewed yet');
  if (review) lines.push(signatureLine(review.signature));
  lines.push(`  Patient ${t(id.patient)}   chain of identity ${t(id.chainOfIdentity)}   starting material ${t(id.bagId)}   lane ${t(id.lane)}`);
  if (id.simulatedModules?.length) lines.push(`  SIMULATED modules (they reported simulation mode): ${t(id.simulatedModules.join(', '))}`);
  lines.push(`  Layout ${t(id.layout.id)}${id.layout.contentHash ? ` (sha256 ${t(id.layout.contentHash.slice(0, 16))}…)` : ''}   schedule ${t(id.schedule.id)} v${t(id.schedule.version)} (sha256 ${t(id.schedule.contentHash.slice(0, 16))}…)`);
  lines.push(`  Started ${record.started.slice(0, 10)} ${timeOfDay(reference)}; times are UTC, with the date (MM-DD) when on another day`);
  if (id.request) lines.push(`  Asked for by ${t(id.request.signature.printedName)} (${t(id.request.signature.user)}) at ${time(new Date(id.request.at).toISOString())}: ${t(id.request.reason)}; signed request at log position ${id.request.seq} (sha256 ${t(id.request.hash.slice(0, 16))}…)`);
  lines.push(`  ${record.entries} log entries, chain ${record.firstHash.slice(0, 12)}… → ${record.lastHash.slice(0, 12)}…`);
  lines.push('');
  lines.push(...exceptions(record, time));
  lines.push('');
  lines.push('Steps');
  for (const step of record.steps) lines.push(...stepLines(step, time));
  lines.push('');
  lines.push('Chain of custody');
  for (const tr of record.transfers) lines.push(`  ${time(tr.at)} ${t(tr.arm)}: ${t(tr.from)} → ${t(tr.to)}, scanned ${t(tr.scannedAtPick)} / ${t(tr.scannedAtPlace)}`);
  for (const r of record.removals) lines.push(`  ${time(r.at)} by hand (${t(r.user)}): out of ${t(r.from)}`);
  for (const c of record.lineClearances) lines.push(`  ${time(c.at)} line clearance of ${t(c.module)} (${t(c.procedure ?? 'no SOP named')}) after ${t(c.previousBatch ?? '-')}`);
  lines.push('');
  lines.push('Environmental monitoring');
  if (record.environmentalMonitoring.length === 0) lines.push('  (no settle plate read for this batch yet)');
  for (const em of record.environmentalMonitoring) {
    const { exposure } = em;
    lines.push(`  ${t(em.plateId)} at ${t(em.location)} (${t(em.zone)}, grade ${t(em.grade)}) ${time(exposure?.from)} → ${time(exposure?.until)}: ${v(em.colonies, 'CFU')}, limit ${v(em.limit, 'CFU')}: ${em.withinLimit ? 'within limit' : 'OVER LIMIT'}`);
  }
  lines.push('');
  lines.push('Timeline');
  for (const e of record.timeline) lines.push(`  ${time(e.at).padEnd(15)} ${t(e.summary)}`);
  return `${lines.join('\n')}\n`;
}

/** Review by exception: everything a reviewer must look at, before the steps. */
function exceptions(record: BatchRecord, time: (at: string) => string): string[] {
  const departed = record.steps.filter((s) => s.outcome === 'failed-controls-skipped' || s.outcome === 'incomplete-skipped');
  const counts: Array<[number, string]> = [
    [record.deviations.length, 'deviation(s)'],
    [record.alarms.length, 'alarm(s)'],
    [record.operatorActions.length + record.removals.length, 'operator action(s)'],
    [departed.length, 'step(s) continued without meeting their controls'],
    [record.interruptions.filter((i) => i.event === 'interrupted').length, 'interruption(s)'],
    [record.reconciliations.length, 'reconciliation(s)'],
    [record.unrecognised.length, 'entry(ies) of unknown type'],
    [record.invalid.length, 'entry(ies) not matching their schema'],
  ];
  const tag = (name: string) => `  ${name.padEnd(12)} `;
  const lines = [`Review by exception: ${counts.filter(([n], i) => n > 0 || i < 3).map(([n, what]) => `${n} ${what}`).join(', ')}`];
  for (const d of record.deviations) lines.push(`${tag('DEVIATION')}${time(d.at)} ${t(d.kind)}${context(d)}: ${t(d.message)}`);
  for (const h of record.holds) lines.push(`${tag('HOLD')}${time(h.at)} ${t(h.step)} (${t(h.kind)})${h.resolved ? '' : ' OPEN'}: ${t(h.message)}`);
  for (const a of record.operatorActions) lines.push(`${tag('OPERATOR')}${time(a.at)} ${t(a.user)}: ${t(a.action)}${a.step ? ` ${t(a.step)}` : ''}: ${t(a.reason)}`, signatureLine(a.signature));
  for (const r of record.removals) lines.push(`${tag('OPERATOR')}${time(r.at)} ${t(r.user)}: removed the material from ${t(r.from)} by hand: ${t(r.reason)}`, signatureLine(r.signature));
  for (const s of departed) {
    lines.push(`${tag('STEP')}${t(s.step)}: ${t(describeOutcome(s))}`);
    for (const c of s.continued?.failedControls ?? []) lines.push(`${' '.repeat(15)}failed ${t(c.result)} ${v(c.value, c.unit)} (${limits(c.min, c.max, c.unit)})`);
  }
  for (const i of record.interruptions) {
    const what = i.event === 'interrupted' ? 'INTERRUPTED' : 'RESUMED';
    lines.push(`${tag(what)}${time(i.at)}${i.afterCrash ? ' after a crash' : ''}${i.runId !== null ? ` (run ${t(i.runId)})` : ''}${i.message ? `: ${t(i.message)}` : ''}`);
  }
  for (const r of record.reconciliations) lines.push(`${tag('RECONCILED')}${time(r.at)} ${t(r.module)}: Workcell believed ${t(r.believed)}, the device was ${t(r.actual)}; ${t(r.action)}${r.message ? `: ${t(r.message)}` : ''}`);
  for (const a of record.alarms) lines.push(`${tag('ALARM')}${time(a.at)} ${t(a.kind)}${context(a)}: ${t(a.message)}`);
  for (const u of record.unrecognised) lines.push(`${tag('UNKNOWN')}${time(u.at)} ${t(u.type)}: ${t(u.summary)}`);
  for (const i of record.invalid) lines.push(`${tag('INVALID')}${time(i.at)} entry ${i.streamSeq}, ${t(i.type)}: ${t(i.problem)}; left out of this record (workcell verify)`);
  return lines;
}

/** ` (sep-1 at wash, code E-17)`: where a deviation or alarm happened, as far as its entry says. */
function context(item: { module?: string; step?: string; code?: string }): string {
  const parts = [item.module ? t(item.module) : '', item.step ? `at ${t(item.step)}` : ''].filter(Boolean).join(' ');
  const all = [parts, item.code ? `code ${t(item.code)}` : ''].filter(Boolean).join(', ');
  return all ? ` (${all})` : '';
}

function stepLines(step: StepRecord, time: (at: string | undefined) => string): string[] {
  const when = step.started ? `${time(step.started)} → ${time(step.ended)}` : `at ${time(step.ended)}`;
  const lines = [`  ${t(step.step).padEnd(14)} ${t(step.module ?? '-').padEnd(8)} ${when}   ${t(describeOutcome(step))}`];
  const indent = '      ';
  if (step.parameters) lines.push(`${indent}parameters ${values(step.parameters, step.parameterUnits)}`);
  if (step.results) lines.push(`${indent}results    ${values(step.results, step.resultUnits)}`);
  for (const c of step.controls) lines.push(`${indent}control    ${controlText(c)}`);
  for (const s of step.telemetry) lines.push(`${indent}telemetry  ${telemetryText(s)}`);
  const counts = new Map<string, number>();
  for (const r of step.recurring) {
    const n = (counts.get(r.work) ?? 0) + 1;
    counts.set(r.work, n);
    const parameters = Object.keys(r.parameters).length > 0 ? ` (${values(r.parameters, r.parameterUnits)})` : '';
    const outcome = r.results ? values(r.results, r.resultUnits) : t(r.outcome);
    lines.push(`${indent}${t(r.work)} #${n} at ${time(r.ended ?? r.issued)} on ${t(r.module)}${parameters}: ${outcome}`);
    for (const c of r.controls) lines.push(`${indent}  control  ${controlText(c)}`);
  }
  return lines;
}

/** `inputVolume=40 mL, cycles=2, washBuffer=PBS`: each value with its unit. */
export function values(items: Record<string, unknown>, units: Record<string, string>): string {
  return Object.entries(items)
    .map(([name, value]) => `${t(name)}=${v(value, units[name])}`)
    .join(', ');
}

function controlText(c: ControlOutcome): string {
  return `${t(c.result)} ${v(c.value, c.unit)} (${limits(c.min, c.max, c.unit) || 'no limit'}): ${c.pass ? 'pass' : 'FAIL'}`;
}

function telemetryText(s: TelemetrySummary): string {
  return `${t(s.module)} ${t(s.channel)}: min ${v(s.min, s.unit)}, max ${v(s.max, s.unit)}, mean ${v(s.mean, s.unit)} (${s.samples} sample${s.samples === 1 ? '' : 's'})`;
}

/** The manifestation 21 CFR 11.50 asks for: printed name, date and time, meaning; and what was signed. */
function signatureLine(signature: Signature | null): string {
  if (!signature) return '            (not signed)';
  return `            signed by ${t(signature.printedName)} (${t(signature.user)}) at ${t(signature.signedAt)}, meaning ${t(signature.meaning)}; content sha256 ${t(signature.contentHash.slice(0, 16))}…`;
}
