/** `workcell plan` on the terminal: the scenarios side by side, then what each one's figures rest on. */
import { printable } from '../../config/printable.ts';
import type { PlanReport, ScenarioReport } from './report-schema.ts';

/** Rows of the comparison table: a label and each scenario's value. */
export function comparisonRows(report: PlanReport): Array<[string, ...string[]]> {
  const row = (label: string, value: (s: ScenarioReport) => string): [string, ...string[]] => [label, ...report.scenarios.map(value)];
  const hours = (h: number | null) => (h === null ? '-' : h >= 48 ? `${(h / 24).toFixed(1)} d` : `${h.toFixed(1)} h`);
  const kinds = [...new Set(report.scenarios.flatMap((s) => s.modules.map((m) => m.kind)))].filter((k) => k !== 'settle-plate-handler');
  return [
    row('patients/week (steady state)', (s) => `${s.patientsPerWeek.mean.toFixed(2)} ± ${s.patientsPerWeek.standardDeviation.toFixed(2)}${s.runs.every((r) => r.steadyState) ? '' : ' *'}`),
    row('  range over seeds', (s) => `${s.patientsPerWeek.min.toFixed(2)} - ${s.patientsPerWeek.max.toFixed(2)}`),
    row('bottleneck bound', (s) => `${s.bound.patientsPerWeek.toFixed(2)} (${s.bound.kind})`),
    row('  share of the bound', (s) => `${(s.bound.shareOfBound * 100).toFixed(0)} %`),
    row('  arrivals even over lanes', (s) => `${s.bound.evenLanes.patientsPerWeek.toFixed(2)} (${s.bound.evenLanes.kind})`),
    row('completed / arrived', (s) => `${(s.completed / s.runs.length).toFixed(1)} / ${s.arrived}`),
    row('vein-to-vein p50 / p90', (s) => `${hours(s.veinToVeinHours.p50)} / ${hours(s.veinToVeinHours.p90)}`),
    row('busiest module', (s) => `${s.bottleneck.module} ${(s.bottleneck.utilisation * 100).toFixed(0)} %`),
    ...kinds.map((kind) => row(`  ${kind}`, (s) => {
      const of = s.modules.filter((m) => m.kind === kind);
      return of.length === 0 ? '-' : `${of.length} × ${((of.reduce((sum, m) => sum + m.utilisation, 0) / of.length) * 100).toFixed(0)} %`;
    })),
    row('line clearance', (s) => hours(s.lineClearanceHours)),
    row('transfers', (s) => `${s.transfers.count.toFixed(0)} (${hours(s.transfers.hours)})`),
    row('waiting for modules', (s) => hours(s.waits.reduce((sum, w) => sum + w.hours, 0))),
    row('hold-time deviations', (s) => String(s.holdTimeDeviations.length)),
    row('holds', (s) => String(s.holds.length)),
    row('findings', (s) => String(s.findings.length)),
    row('digest', (s) => s.digest.slice(0, 16)),
  ];
}

export function table(rows: ReadonlyArray<readonly string[]>): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('   ').trimEnd()).join('\n');
}

export function planText(report: PlanReport): string {
  const header: [string, ...string[]] = ['', ...report.scenarios.map((s) => s.name)];
  const lines = [
    `Plan: ${report.arrivals.patients} patients (${report.arrivals.spec}) over ${report.horizon.weeks} weeks from ${report.horizon.startAt.slice(0, 16)}Z, seeds ${report.seeds.join(', ')}`,
    '',
    table([header, ...comparisonRows(report)]),
  ];
  if (report.scenarios.some((s) => !s.runs.every((r) => r.steadyState))) lines.push('', '* under a week of steady state after the line filled: the rate is over the whole horizon');
  for (const s of report.scenarios) lines.push('', ...scenarioDetails(s));
  return `${lines.join('\n').split('\n').map(printable).join('\n')}\n`;
}

function scenarioDetails(s: ScenarioReport): string[] {
  const lines = [`${s.name}: digest ${s.digest}`];
  for (const run of s.runs) lines.push(`  seed ${run.seed}: ${run.completed} completed, ${run.patientsPerWeek} a week, ${run.events} entries, ${run.outcome}, ${run.wallSeconds} s, digest: ${run.digest}`);
  if (s.waits.length > 0) lines.push('  waits by cause (per seed):', ...s.waits.slice(0, 6).map((w) => `    ${w.hours.toFixed(1)} h in ${w.count} waits: ${w.reason}`));
  const slack = s.holdSlack.filter((h) => h.count > 0);
  if (slack.length > 0) lines.push('  hold-time slack (min / p10):', ...slack.map((h) => `    after ${h.step} (${h.maxHoldMinutes} min): ${h.minMinutes} / ${h.p10Minutes} min over ${h.count}`));
  if (s.holdTimeDeviations.length > 0) lines.push(`  hold-time deviations (${s.holdTimeDeviations.length}):`, ...s.holdTimeDeviations.slice(0, 10).map((d) => `    seed ${d.seed} ${d.batchId} after ${d.step}, ${d.overMinutes} min over: ${d.cause}`));
  if (s.holdTimeDeviations.length > 10) lines.push(`    ... and ${s.holdTimeDeviations.length - 10} more (--json lists every one)`);
  if (s.holds.length > 0) lines.push(`  holds (${s.holds.length}):`, ...s.holds.slice(0, 10).map((h) => `    seed ${h.seed} ${h.batchId} at ${h.step} (${h.kind}): ${h.message}`));
  if (s.findings.length > 0) lines.push(`  findings (${s.findings.length}):`, ...s.findings.slice(0, 10).map((f) => `    seed ${f.seed} ${f.batchId}: ${f.message}`));
  if (s.findings.length > 10) lines.push(`    ... and ${s.findings.length - 10} more (--json lists every one)`);
  return lines;
}
