/** The capacity figures of a run, on a log small enough to check on paper (known-log.ts). */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import { loadWorkcell } from '../../config/validate.ts';
import type { Arrival } from '../../orchestrator/capacity/arrivals.ts';
import { WEEK_MS } from '../../orchestrator/capacity/bound.ts';
import { runMetrics, steadyThroughput } from '../../orchestrator/capacity/metrics.ts';
import { planHtml } from '../../orchestrator/capacity/report-html.ts';
import { planReportSchemaDocument, PlanReportSchema, type PlanReport } from '../../orchestrator/capacity/report-schema.ts';
import { planText } from '../../orchestrator/capacity/report-text.ts';
import { scenarioReport } from '../../orchestrator/capacity/scenario.ts';
import { readTimeline, timelineEntries } from '../../orchestrator/capacity/timeline.ts';
import { at, knownLog, MIN, T0 } from './known-log.ts';

const { layout, schedules } = loadWorkcell('test/fixtures/layouts/two-lane-sila.yaml', ['test/fixtures/schedules/short.yaml']);
const schedule = schedules[0]!.model;
const arrivals: Arrival[] = [
  { batchId: 'P-001', patient: 'P-001', at: T0, collectedAt: T0, usableUntil: at(36 * 60) },
  // Collected long before: usable only until one minute after arrival, and its wash starts at minute 2.
  { batchId: 'P-002', patient: 'P-002', at: T0, collectedAt: T0 - 35 * 60 * MIN, usableUntil: at(1) },
];
const log = knownLog();
afterAll(() => log.close());
const capabilityOf = (step: string) => schedule.schedule.steps.find((s) => s.id === step)?.capability;
const timeline = readTimeline(timelineEntries(log), capabilityOf);
const context = { layout: layout.model, schedule, arrivals, startAt: T0, horizonMs: 10 * 60 * MIN };
const metrics = runMetrics(timeline, context);
const minutes = (ms: number) => ms / MIN;

describe('the figures of a known log', () => {
  it('counts batches and measures vein-to-vein from arrival to completion', () => {
    expect([metrics.arrived, metrics.completed, metrics.quarantined]).toEqual([2, 2, 0]);
    expect(metrics.veinToVeinMs.map(minutes)).toEqual([74, 232]);
    expect(metrics.window).toEqual({ from: T0, until: at(232) });
  });

  it('without a week of steady state, the rate is over the whole window', () => {
    expect(metrics.steadyState).toBe(false);
    expect(metrics.patientsPerWeek).toBeCloseTo((2 * WEEK_MS) / (232 * MIN), 9);
  });

  it('module use: occupied, cleared, processing; an arm by its moves', () => {
    const use = Object.fromEntries(metrics.modules.map((m) => [m.id, [minutes(m.occupiedMs), minutes(m.clearanceMs), minutes(m.processingMs), m.utilisation]]));
    expect(use['sep-1']).toEqual([64, 0, 60, 64 / 232]);
    expect(use['sep-2']).toEqual([91, 0, 60, 91 / 232]);
    expect(use['ep-1']).toEqual([155, 30, 20, 185 / 232]);
    expect(use['arm-1']).toEqual([0, 0, 8, 8 / 232]);
    expect(minutes(metrics.lineClearanceMs)).toBe(30);
    expect({ count: metrics.transfers.count, minutes: minutes(metrics.transfers.ms) }).toEqual({ count: 8, minutes: 8 });
  });

  it('a wait is split by what its modules were doing: busy with another batch, then in line clearance', () => {
    expect(metrics.waits.map((w) => [w.batchId, w.step, w.reason, minutes(w.from - T0), minutes(w.until - T0), w.occupants])).toEqual([
      ['P-002', 'electroporate', 'electroporator busy with other batches', 32, 43, ['P-001']],
      ['P-002', 'electroporate', 'electroporator in line clearance', 43, 58, []],
    ]);
  });

  it('hold-time slack per hold: deadline minus entry into the next module', () => {
    expect(Object.fromEntries([...metrics.holdSlackMs].map(([step, values]) => [step, values.map(minutes)]))).toEqual({ wash: [119, 93], electroporate: [119, -12] });
  });

  it('a hold-time deviation names its cause: the hold the batch waited in', () => {
    expect(metrics.holdTimeDeviations).toEqual([{ batchId: 'P-002', step: 'electroporate', at: at(189), overMs: 12 * MIN, cause: 'held for an operator (operator: check the bag label)', message: 'hold time after electroporate (2 h) exceeded at 11:09 UTC' }]);
    expect(metrics.holds.map((h) => [h.batchId, h.kind, minutes(h.openedAt - T0), minutes(h.resolvedAt! - T0), h.action])).toEqual([['P-002', 'operator', 69, 200, 'retry']]);
    expect([...metrics.deviationsByKind]).toEqual([['hold-time-exceeded', 1]]);
  });

  it('material that expired before its first step is a finding', () => {
    expect(metrics.findings).toEqual([{ batchId: 'P-002', message: 'starting material expired at 2027-01-04T08:01:00.000Z, 1 min before wash started' }]);
  });

  it('the Gantt chart has a bar per step on its module, and the hold windows where the material waited', () => {
    expect(timeline.stepBars.filter((b) => b.batchId === 'P-001').map((b) => [b.step, b.module, minutes(b.from - T0), minutes(b.until - T0)])).toEqual([
      ['wash', 'sep-1', 1, 31],
      ['electroporate', 'ep-1', 32, 42],
      ['concentrate', 'sep-1', 43, 73],
    ]);
    expect(timeline.holdWindows.filter((w) => w.batchId === 'P-002').map((w) => [w.step, w.module, minutes(w.from - T0), minutes(w.until - T0), w.within])).toEqual([
      ['wash', 'sep-2', 32, 59, true],
      ['electroporate', 'ep-1', 69, 201, false],
    ]);
  });
});

describe('steady-state throughput', () => {
  it('counts whole weeks after the first completion, which marks the line full', () => {
    const day = 86400_000;
    const completions = [10, 12, 15, 17, 19, 22, 24].map((d) => T0 + d * day);
    const result = steadyThroughput(completions, T0, T0 + 24.5 * day);
    // Weeks (day 10, 17], (17, 24]: 12, 15, 17 then 19, 22, 24.
    expect(result).toEqual({ patientsPerWeek: 3, steadyState: true, weekly: [3, 3] });
    expect(steadyThroughput([], T0, T0 + WEEK_MS)).toEqual({ patientsPerWeek: 0, steadyState: false, weekly: [] });
  });
});

describe('the report of a scenario', () => {
  const scenario = { name: 'two-lane × short', layoutFile: 'two-lane-sila.yaml', layout: layout.model, added: [], scheduleFile: 'short.yaml', schedule, scheduler: 'deadline-first' };
  const outcome = { seed: 7, digest: 'ab'.repeat(32), events: log.count(), wallMs: 1500, analysisMs: 20, outcome: 'finished' as const, metrics, timeline };
  const report: PlanReport = { horizon: { startAt: new Date(T0).toISOString(), weeks: 0.06 }, arrivals: { spec: '--patients 2', patients: 2 }, seeds: [7], scenarios: [scenarioReport(scenario, [outcome])] };
  const s = report.scenarios[0]!;

  it('matches its JSON Schema, with the figures scripts read', () => {
    const validate = new Ajv({ strict: true, keywords: ['unit'] }).compile(PlanReportSchema);
    expect(validate(JSON.parse(JSON.stringify(report))), JSON.stringify(validate.errors)).toBe(true);
    expect(s.runs[0]!.digest).toBe('ab'.repeat(32));
    expect(s.patientsPerWeek.mean).toBeCloseTo((2 * WEEK_MS) / (232 * MIN), 2);
    expect(s.holdTimeDeviations).toEqual([{ seed: 7, batchId: 'P-002', step: 'electroporate', at: new Date(at(189)).toISOString(), overMinutes: 12, cause: 'held for an operator (operator: check the bag label)', message: 'hold time after electroporate (2 h) exceeded at 11:09 UTC' }]);
    expect(s.holdSlack).toEqual([
      { step: 'wash', maxHoldMinutes: 120, count: 2, minMinutes: 93, p10Minutes: 95.6 },
      { step: 'electroporate', maxHoldMinutes: 120, count: 2, minMinutes: -12, p10Minutes: 1.1 },
    ]);
    expect(s.waits).toEqual([{ reason: 'electroporator in line clearance', hours: 0.25, count: 1 }, { reason: 'electroporator busy with other batches', hours: 0.18, count: 1 }]);
    expect(s.bottleneck).toEqual({ kind: 'electroporator', module: 'ep-1', utilisation: 0.7974 });
    expect(s.veinToVeinHours).toEqual({ p50: 2.55, p90: 3.6, batches: 2 });
  });

  it('prints the comparison table and the details', () => {
    const text = planText(report);
    expect(text).toContain('two-lane × short');
    expect(text).toMatch(/patients\/week \(steady state\)\s+\d+\.\d+ ± 0\.00 \*/);
    expect(text).toContain('seed 7 P-002 after electroporate, 12 min over: held for an operator (operator: check the bag label)');
    expect(text).toContain(`digest: ${'ab'.repeat(32)}`);
  });

  it('writes a self-contained HTML page: Gantt chart, utilisation, throughput against the bound, comparison', () => {
    const page = planHtml(report, [timeline]);
    expect(page).toContain('<h2>Comparison</h2>');
    expect(page).toContain('aria-label="Gantt chart"');
    expect(page).toContain('aria-label="utilisation"');
    expect(page).toContain('aria-label="throughput against the bound"');
    expect(page).toContain('line clearance of ep-1 after P-001');
    expect(page).toContain('P-002: hold time after electroporate, deadline 01-04 11:09 (exceeded)');
    expect(page).toContain('P-001 moved to ep-1.port');
    expect(page).toContain('@media print');
    expect(page).not.toMatch(/(?:src|href)=["']?https?:/);
    // Every step of the chart's first batch has its bar.
    expect(page.match(/<title>P-001 (?:wash|electroporate|concentrate) on /g)).toHaveLength(3);
  });
});

describe('the published schema of --json', () => {
  it('docs/plan-report.schema.json is what the code defines (workcell plan --json-schema > docs/plan-report.schema.json)', () => {
    expect(JSON.parse(readFileSync('docs/plan-report.schema.json', 'utf8'))).toEqual(planReportSchemaDocument());
  });
});
