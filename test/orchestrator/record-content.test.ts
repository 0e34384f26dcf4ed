import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventLog } from '../../orchestrator/event-log.ts';
import { buildRecord, formatRecord } from '../../orchestrator/record.ts';
import { recordHtml } from '../../orchestrator/record-html.ts';
import type { Signature } from '../../orchestrator/signatures.ts';
import { factsOf } from '../../orchestrator/record-schedule.ts';
import { checkSchedule } from '../../config/schedule.ts';
import { YamlSource } from '../../config/source.ts';
import { Catalogue, type ModuleKind } from '../../config/catalogue.ts';
import { appendUnknownEntry, sample } from '../support/entries.ts';
import type { EntryData, EntryType } from '../../orchestrator/entries.ts';

const SCHEDULE_FILE = resolve('schedules/cart-electroporation.yaml');
const DAY = 86_400_000;
const HOUR = 3_600_000;
/** The batch starts at 08:00 UTC on 1 December; times on later days print with their date. */
const T0 = Date.UTC(2026, 11, 1, 8);

const logs: EventLog[] = [];
afterEach(() => {
  for (const log of logs.splice(0)) log.close();
});

/** A log with one batch started on the CAR-T electroporation schedule; `add` appends to its stream. */
function batchLog(schedule = { file: SCHEDULE_FILE, text: readFileSync(SCHEDULE_FILE, 'utf8') }) {
  const log = new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-record-')), 'records.db'));
  logs.push(log);
  const add = <T extends EntryType>(at: number, type: T, data: Partial<EntryData<T>> = {}) => log.append({ stream: 'P-001', type, at, data: sample(type, data) });
  add(T0, 'batch.started', { batchId: 'P-001', patient: 'P-001', chainOfIdentity: 'COI-P-001', bagId: 'BAG-P-001', lane: 'lane-1', layout: { id: 'two-lane', file: 'l.yaml' }, schedule: { id: 'cart-electroporation', version: '1.0.0', contentHash: 'ab'.repeat(32), ...schedule } });
  return { log, add };
}

function signature(user: string, printedName: string, meaning: string): Signature {
  return { user, printedName, meaning, signedAt: new Date(T0).toISOString(), contentHash: 'cd'.repeat(32) };
}

const lines = (text: string) => text.split('\n');

describe('recurring work in the batch record', () => {
  function cultureWithSamples() {
    const { log, add } = batchLog();
    add(T0 + HOUR, 'step.started', { step: 'expand', attempt: 1 });
    add(T0 + HOUR, 'module.reserved', { module: 'bio-1', lane: 'lane-1' });
    add(T0 + HOUR, 'command.issued', { key: 'P-001:expand:1:run.0', step: 'expand', capability: 'culture', module: 'bio-1', parameters: { duration: 1, temperature: 37 } });
    add(T0 + HOUR + DAY, 'command.completed', { key: 'P-001:expand:1:run.0', module: 'bio-1', results: { viability: 91 } });
    // Written by today's orchestrator: the step the work belongs to is named.
    add(T0 + HOUR + DAY, 'command.issued', { key: 'P-001:expand:1:daily-sample.0', step: 'daily-sample', parentStep: 'expand', capability: 'sample', module: 'bio-1', parameters: { volume: 2 } });
    add(T0 + 2 * HOUR + DAY, 'command.completed', { key: 'P-001:expand:1:daily-sample.0', module: 'bio-1', results: { cellDensity: 1_234_567, viability: 93.27, glucose: 3.1 } });
    add(T0 + 2 * HOUR + DAY, 'control.checked', { step: 'daily-sample', parentStep: 'expand', result: 'viability', value: 93.27, unit: '%', min: 70, max: null, pass: true });
    // Written before `parentStep` existed: the schedule says whose work daily-sample is.
    add(T0 + HOUR + 2 * DAY, 'command.issued', { key: 'P-001:expand:1:daily-sample.1', step: 'daily-sample', capability: 'sample', module: 'bio-1', parameters: { volume: 2 } });
    add(T0 + 2 * HOUR + 2 * DAY, 'command.completed', { key: 'P-001:expand:1:daily-sample.1', module: 'bio-1', results: { cellDensity: 2_345_678, viability: 65.24, glucose: 1.8 } });
    add(T0 + 2 * HOUR + 2 * DAY, 'control.checked', { step: 'daily-sample', result: 'viability', value: 65.24, unit: '%', min: 70, max: null, pass: false });
    add(T0 + 2 * HOUR + 2 * DAY, 'deviation', { kind: 'out-of-limit', step: 'daily-sample', result: 'viability', value: 65.24, message: 'daily-sample: viability 65.24 % is outside min 70 %' });
    add(T0 + 3 * HOUR + 2 * DAY, 'command.issued', { key: 'P-001:expand:1:glucose-feed.1', step: 'glucose-feed', parentStep: 'expand', capability: 'feed', module: 'bio-1', parameters: { volume: 250 } });
    add(T0 + 3 * HOUR + 2 * DAY, 'command.completed', { key: 'P-001:expand:1:glucose-feed.1', module: 'bio-1', results: { volume: 750 } });
    add(T0 + 9 * DAY, 'control.checked', { step: 'expand', result: 'viability', value: 88.04, unit: '%', min: 80, max: null, pass: true });
    add(T0 + 9 * DAY, 'step.completed', { step: 'expand', attempt: 1, module: 'bio-1', parameters: { duration: 9, temperature: 37, co2: 5, rockingSpeed: 12, rockingAngle: 6, perfusion: 'by-density' }, results: { totalCells: 24_123_456_789, viability: 88.04, foldExpansion: 24.123 } });
    return log;
  }

  it('lists each occurrence under its step, with its time, results and control outcomes; the JSON keeps raw values and ISO times', () => {
    const record = buildRecord(cultureWithSamples(), 'P-001');
    expect(record.steps.map((s) => s.step)).toEqual(['expand']);
    const expand = record.steps[0]!;
    expect(expand.controls.map((c) => [c.result, c.pass])).toEqual([['viability', true]]);
    expect(expand.recurring.map((r) => [r.work, r.outcome, r.controls.map((c) => c.pass)])).toEqual([
      ['daily-sample', 'completed', [true]],
      ['daily-sample', 'completed', [false]],
      ['glucose-feed', 'completed', []],
    ]);
    const json = JSON.parse(JSON.stringify(record));
    expect(json.steps[0].recurring[0]).toMatchObject({ work: 'daily-sample', capability: 'rocking-bioreactor.sample', ended: new Date(T0 + 2 * HOUR + DAY).toISOString(), results: { viability: 93.27, cellDensity: 1_234_567 }, resultUnits: { viability: '%', cellDensity: 'cells/mL', glucose: 'g/L' } });
  });

  it('prints them with units, dated when on another day than the batch started', () => {
    const text = formatRecord(buildRecord(cultureWithSamples(), 'P-001'));
    expect(text).toContain('daily-sample #1 at 12-02 10:00 UTC on bio-1 (volume=2 mL): cellDensity=1.2e6 cells/mL, glucose=3.1 g/L, viability=93.3 %');
    expect(text).toContain('daily-sample #2 at 12-03 10:00 UTC on bio-1 (volume=2 mL): cellDensity=2.3e6 cells/mL, glucose=1.8 g/L, viability=65.2 %');
    expect(text).toContain('  control  viability 93.3 % (at least 70.0 %): pass');
    expect(text).toContain('  control  viability 65.2 % (at least 70.0 %): FAIL');
    expect(text).toContain('glucose-feed #1 at 12-03 11:00 UTC on bio-1 (volume=250 mL): volume=750 mL');
    expect(text).toContain('parameters co2=5.0 %, duration=9 d, perfusion=by-density, rockingAngle=6 deg, rockingSpeed=12 rpm, temperature=37.0 degC');
    expect(text).toContain('results    foldExpansion=24.1, totalCells=2.41e10 cells, viability=88.0 %');
    expect(text).toMatch(/expand +bio-1 +09:00 UTC → 12-10 08:00 UTC +completed/);
  });

  it('shows them in the HTML record under their step', () => {
    const page = recordHtml(buildRecord(cultureWithSamples(), 'P-001'));
    const expand = page.slice(page.indexOf('<h3>expand'));
    expect(expand).toContain('<th>recurring work</th>');
    expect(expand).toMatch(/<td>12-02 10:00 UTC<\/td><td>daily-sample<br>on bio-1<\/td><td>volume = 2 mL<\/td><td>cellDensity = 1\.2e6 cells\/mL<br>glucose = 3\.1 g\/L<br>viability = 93\.3 %<\/td><td><span class="pass">viability 93\.3 % \(at least 70\.0 %\): pass<\/span><\/td>/);
    expect(expand).toContain('<span class="fail">viability 65.2 % (at least 70.0 %): FAIL</span>');
  });

  it('prefers the units an entry was written with over the catalogue', () => {
    const { log, add } = batchLog();
    add(T0 + HOUR, 'step.started', { step: 'seed', attempt: 1 });
    add(T0 + 2 * HOUR, 'step.completed', { step: 'seed', attempt: 1, module: 'bio-1', parameters: { cells: 1e9, volume: 0.5 }, parameterUnits: { volume: 'L' }, results: { cellDensity: 2e6 }, resultUnits: { cellDensity: 'cells/L' } });
    const text = formatRecord(buildRecord(log, 'P-001'));
    expect(text).toContain('parameters cells=1.00e9 cells, volume=0.5 L');
    expect(text).toContain('results    cellDensity=2.0e6 cells/L');
  });

  it('still prints a record whose schedule no longer loads, with the units its entries carry', () => {
    const { log, add } = batchLog({ file: 'gone.yaml', text: 'not: [a schedule' });
    add(T0 + HOUR, 'step.started', { step: 'wash', attempt: 1 });
    add(T0 + 2 * HOUR, 'step.completed', { step: 'wash', attempt: 1, module: 'sep-1', parameters: { inputVolume: 40 }, parameterUnits: { inputVolume: 'mL' }, results: { viability: 94.47 }, resultUnits: { viability: '%' } });
    const text = formatRecord(buildRecord(log, 'P-001'));
    expect(text).toContain('parameters inputVolume=40 mL');
    expect(text).toContain('results    viability=94.5 %');
  });
});

describe('device faults, watchdog escalations, reconciliations, crashes and resumes in the record', () => {
  function troubledBatch() {
    const { log, add } = batchLog();
    add(T0 + HOUR, 'step.started', { step: 'wash', attempt: 1 });
    add(T0 + HOUR, 'module.reserved', { module: 'sep-1', lane: 'lane-1' });
    add(T0 + 2 * HOUR, 'deviation', { kind: 'device-fault', module: 'sep-1', step: 'wash', capability: 'wash', code: 'E-17', message: 'wash on sep-1: centrifuge imbalance' });
    add(T0 + 3 * HOUR, 'alarm', { kind: 'watchdog', module: 'sep-1', step: 'wash', message: 'no result from sep-1 for 40 min and no progress' });
    add(T0 + 3 * HOUR, 'deviation', { kind: 'watchdog', module: 'sep-1', step: 'wash', message: 'wash escalated by the watchdog: hold time after the step at stake' });
    add(T0 + 4 * HOUR, 'batch.interrupted', { message: 'the orchestrator stopped while wash ran' });
    add(T0 + DAY, 'batch.resumed', { runId: '2', afterCrash: true, message: 'picked up after a crash of run 1' });
    add(T0 + DAY, 'module.reconciled', { module: 'sep-1', believed: 'running', actual: 'idle', action: 'result fetched by token', message: 'sep-1 was idle while wash had sent no result' });
    // An entry of a type a later version of Workcell writes: this one refuses to write it, but reads it.
    appendUnknownEntry(log, { stream: 'P-001', type: 'sensor.recalibrated', at: T0 + DAY, data: { module: 'sep-1', firmware: '2.1', offsets: { flow: 0.02 } } });
    return log;
  }

  it('lists each of them for review by exception, device faults as deviations with the module and its error code', () => {
    const record = buildRecord(troubledBatch(), 'P-001');
    expect(record.deviations).toEqual([
      { at: new Date(T0 + 2 * HOUR).toISOString(), kind: 'device-fault', message: 'wash on sep-1: centrifuge imbalance', module: 'sep-1', step: 'wash', code: 'E-17' },
      expect.objectContaining({ kind: 'watchdog' }),
    ]);
    expect(record.interruptions.map((i) => [i.event, i.afterCrash, i.runId])).toEqual([['interrupted', null, null], ['resumed', true, '2']]);
    expect(record.reconciliations).toEqual([expect.objectContaining({ module: 'sep-1', believed: 'running', actual: 'idle', action: 'result fetched by token' })]);
    const text = formatRecord(record);
    const exceptions = text.slice(text.indexOf('Review by exception'), text.indexOf('\nSteps'));
    expect(exceptions).toContain('Review by exception: 2 deviation(s), 1 alarm(s), 0 operator action(s), 1 interruption(s), 1 reconciliation(s), 1 entry(ies) of unknown type');
    expect(exceptions).toContain('DEVIATION    10:00 UTC device-fault (sep-1 at wash, code E-17): wash on sep-1: centrifuge imbalance');
    expect(exceptions).toContain('ALARM        11:00 UTC watchdog (sep-1 at wash): no result from sep-1 for 40 min and no progress');
    expect(exceptions).toContain('INTERRUPTED  12:00 UTC: the orchestrator stopped while wash ran');
    expect(exceptions).toContain('RESUMED      12-02 08:00 UTC after a crash (run 2): picked up after a crash of run 1');
    expect(exceptions).toContain('RECONCILED   12-02 08:00 UTC sep-1: Workcell believed running, the device was idle; result fetched by token: sep-1 was idle while wash had sent no result');
    expect(exceptions).toContain('UNKNOWN      12-02 08:00 UTC sensor.recalibrated: firmware=2.1, module=sep-1, offsets={"flow":0.02}');
  });

  it('puts them on the timeline in the order they happened, and never drops an entry of a type it does not know', () => {
    const record = buildRecord(troubledBatch(), 'P-001');
    expect(record.timeline.map((e) => e.type)).toEqual(['batch.started', 'step.started', 'deviation', 'alarm', 'deviation', 'batch.interrupted', 'batch.resumed', 'module.reconciled', 'sensor.recalibrated']);
    const text = formatRecord(record);
    const timeline = text.slice(text.indexOf('\nTimeline'));
    expect(timeline).toContain('12:00 UTC       the orchestrator stopped while the batch ran: the orchestrator stopped while wash ran');
    expect(timeline).toContain('12-02 08:00 UTC resumed after a crash (run 2): picked up after a crash of run 1');
    expect(timeline).toContain('12-02 08:00 UTC sensor.recalibrated: firmware=2.1, module=sep-1, offsets={"flow":0.02}');
    const page = recordHtml(record);
    for (const shown of ['centrifuge imbalance', 'code E-17', 'resumed after a crash', 'result fetched by token', 'sensor.recalibrated']) expect(page).toContain(shown);
  });
});

describe('a skipped step says what happened', () => {
  const qa = signature('qa.lee', 'Li Lee', 'approval to skip the step');

  function skippedSteps() {
    const { log, add } = batchLog();
    // wash ran and failed its control; QA skipped it.
    add(T0 + HOUR, 'step.started', { step: 'wash', attempt: 1 });
    add(T0 + HOUR, 'module.reserved', { module: 'sep-1', lane: 'lane-1' });
    add(T0 + HOUR, 'command.issued', { key: 'P-001:wash:1:run', step: 'wash', capability: 'wash', module: 'sep-1', parameters: { inputVolume: 40 } });
    add(T0 + 2 * HOUR, 'command.completed', { key: 'P-001:wash:1:run', module: 'sep-1', results: { viability: 55.01, recovery: 85.2 } });
    add(T0 + 2 * HOUR, 'control.checked', { step: 'wash', result: 'viability', value: 55.01, unit: '%', min: 70, max: null, pass: false });
    add(T0 + 2 * HOUR, 'hold.opened', { step: 'wash', kind: 'control', message: 'wash: viability 55.01 % is outside min 70 %', actions: ['retry', 'skip', 'abort'] });
    add(T0 + 3 * HOUR, 'hold.resolved', { step: 'wash', action: 'skip', reason: 'viability acceptable per deviation DEV-12', user: 'qa.lee', signature: qa });
    add(T0 + 3 * HOUR, 'step.skipped', { step: 'wash', ran: true, reason: 'skipped by an operator', failedControls: [{ result: 'viability', value: 55.01, unit: '%', min: 70, max: null }], approvedBy: { user: 'qa.lee', printedName: 'Li Lee' } });
    // select started, its command failed before any result; QA skipped it.
    add(T0 + 4 * HOUR, 'step.started', { step: 'select', attempt: 1 });
    add(T0 + 4 * HOUR, 'command.issued', { key: 'P-001:select:1:run', step: 'select', capability: 'select', module: 'sep-1', parameters: {} });
    add(T0 + 5 * HOUR, 'command.failed', { key: 'P-001:select:1:run', module: 'sep-1', message: 'select column clogged' });
    add(T0 + 5 * HOUR, 'step.failed', { step: 'select', attempt: 1, message: 'select column clogged' });
    add(T0 + 6 * HOUR, 'hold.resolved', { step: 'select', action: 'skip', reason: 'selection done by hand', user: 'qa.lee', signature: qa });
    add(T0 + 6 * HOUR, 'step.skipped', { step: 'select', ran: true, reason: 'skipped by an operator', approvedBy: { user: 'qa.lee', printedName: 'Li Lee' } });
    // electroporate never started.
    add(T0 + 7 * HOUR, 'step.skipped', { step: 'electroporate', reason: 'condition not met: select.purity below 90 %' });
    return log;
  }

  it('keeps what a step that ran did, and who approved going on without meeting its controls', () => {
    const record = buildRecord(skippedSteps(), 'P-001');
    const [wash, select, electroporate] = record.steps;
    expect(wash).toMatchObject({ outcome: 'failed-controls-skipped', module: 'sep-1', results: { viability: 55.01, recovery: 85.2 }, parameters: { inputVolume: 40, targetVolume: 20, cycles: 2 }, continued: { approvedBy: { user: 'qa.lee', printedName: 'Li Lee' }, failedControls: [{ result: 'viability', value: 55.01 }] } });
    expect(wash!.controls.map((c) => c.pass)).toEqual([false]);
    expect(select).toMatchObject({ outcome: 'incomplete-skipped', continued: { why: 'select column clogged' } });
    expect(electroporate).toMatchObject({ outcome: 'skipped', skippedBecause: 'condition not met: select.purity below 90 %' });
    const text = formatRecord(record);
    expect(text).toMatch(/ {2}wash +sep-1 +09:00 UTC → 11:00 UTC +ran, failed controls, continued without meeting them \(skip approved by Li Lee \(qa\.lee\)\)\n/);
    expect(text).toContain('      results    recovery=85.2 %, viability=55.0 %');
    expect(text).toContain('      control    viability 55.0 % (at least 70.0 %): FAIL');
    expect(text).toMatch(/ {2}select .*started, did not complete \(select column clogged\), continued without it \(skip approved by Li Lee \(qa\.lee\)\)\n/);
    expect(text).toMatch(/ {2}electroporate .* skipped: condition not met: select\.purity below 90 %\n/);
    // For review by exception: the two steps the batch went on without.
    expect(text).toContain('STEP         wash: ran, failed controls, continued without meeting them (skip approved by Li Lee (qa.lee))\n               failed viability 55.0 % (at least 70.0 %)');
    expect(text).toContain('STEP         select: started, did not complete (select column clogged), continued without it');
    const page = recordHtml(record);
    expect(page).toContain('ran, failed controls, continued without meeting them (skip approved by Li Lee (qa.lee))');
  });

  it('takes who approved it from the signed answer when the skip entry does not name them', () => {
    const { log, add } = batchLog();
    add(T0 + HOUR, 'step.started', { step: 'wash', attempt: 1 });
    add(T0 + HOUR, 'command.issued', { key: 'k', step: 'wash', capability: 'wash', module: 'sep-1', parameters: {} });
    add(T0 + 2 * HOUR, 'command.completed', { key: 'k', module: 'sep-1', results: { viability: 55 } });
    add(T0 + 3 * HOUR, 'hold.resolved', { step: 'wash', action: 'skip', reason: 'ok', user: 'qa.lee', signature: qa });
    add(T0 + 3 * HOUR, 'step.skipped', { step: 'wash', ran: true, reason: 'skipped by an operator' });
    expect(formatRecord(buildRecord(log, 'P-001'))).toContain('ran, failed controls, continued without meeting them (skip approved by Li Lee (qa.lee))');
  });
});

describe('hostile text in the record stays text', () => {
  const forged = 'fine\n            signed by Mallory Boss (qa.boss) at 2026-12-01T09:00:00.000Z, meaning approval\x1b[2J\x1b[31m\u202eevil\r';

  function hostileBatch() {
    const { log, add } = batchLog();
    add(T0 + HOUR, 'step.started', { step: 'wash', attempt: 1 });
    add(T0 + HOUR, 'hold.opened', { step: 'wash', kind: 'command-failed', message: `device said: ${forged}`, actions: ['retry', 'skip', 'abort'] });
    add(T0 + 2 * HOUR, 'hold.resolved', { step: 'wash', action: 'retry', reason: forged, user: 'a.jansen', signature: signature('a.jansen', 'Anna Jansen', 'approval to retry the step') });
    add(T0 + 2 * HOUR, 'deviation', { kind: 'device-fault', module: 'sep-1\x1b[0m', code: '\x07E1', message: forged });
    add(T0 + 3 * HOUR, 'step.completed', { step: 'wash', attempt: 1, module: 'sep-1', parameters: { washBuffer: 'PBS\nsigned by Mallory' }, results: { viability: 90 } });
    return log;
  }

  it('cannot forge a "signed by" line or reach the terminal with an escape sequence', () => {
    const text = formatRecord(buildRecord(hostileBatch(), 'P-001'));
    const signedLines = lines(text).filter((l) => /^\s*signed by/.test(l));
    expect(signedLines).toHaveLength(1);
    expect(signedLines[0]).toMatch(/^ {12}signed by Anna Jansen \(a\.jansen\) at /);
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f\u202e]/);
    expect(text).toContain('fine\\n            signed by Mallory Boss (qa.boss)');
    expect(text).toContain('\\x1b[2J\\x1b[31m\\u202eevil\\r');
    expect(text).toContain('washBuffer=PBS\\nsigned by Mallory');
  });

  it('cannot break the HTML page either', () => {
    const page = recordHtml(buildRecord(hostileBatch(), 'P-001'));
    expect(page).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f\u202e]/);
    expect(page).toContain('fine\\n            signed by Mallory Boss');
  });
});

describe('the limits a telemetry channel is read against', () => {
  const kind: ModuleKind = {
    kind: 'rocking-bioreactor',
    description: 'test kind',
    material: { capacity: 1, container: 'bag' },
    lineClearanceWhenShared: true,
    file: 'test.yaml',
    capabilities: {
      culture: {
        description: 'culture',
        parameters: {},
        results: { glucose: { type: 'number', unit: 'g/L', description: 'glucose' } },
        telemetry: { temperature: { unit: 'degC', min: 36, max: 38, description: 'bag' }, glucose: { unit: 'g/L', description: 'glucose' } },
        duration: { known: 'fixed', value: '1 h' },
      },
    },
  };
  // Converted as a loaded schedule is: the limits as written, the figures in catalogue units.
  const source = new YamlSource(
    'limits.yaml',
    [
      'schedule: { id: t, version: "1.0", name: t }',
      'steps:',
      '  - id: expand',
      '    capability: rocking-bioreactor.culture',
      '    during:',
      "      - { id: feed, capability: rocking-bioreactor.culture, when: { telemetry: glucose, below: '2 g/L' } }",
      "      - { id: check, capability: rocking-bioreactor.culture, every: '24 h', controls: [{ result: glucose, min: '1 g/L', max: '5 g/L' }] }",
      '',
    ].join('\n'),
  );
  const model = checkSchedule(source, Catalogue.fromKinds([kind]));
  const facts = factsOf(model);

  it('converts without a finding', () => {
    expect(source.diagnostics).toEqual([]);
  });

  it("takes the catalogue channel's range, in the unit the device reported", () => {
    expect(facts.telemetryLimits('expand', 'temperature', 'degC')).toEqual([
      { value: 36, kind: 'min', source: 'catalogue range' },
      { value: 38, kind: 'max', source: 'catalogue range' },
    ]);
  });

  it("takes the schedule's conditions and controls on the channel, converted to its unit", () => {
    expect(facts.telemetryLimits('expand', 'glucose', 'mg/L')).toEqual([
      { value: 2000, kind: 'trigger', source: 'feed when below 2 g/L' },
      { value: 1000, kind: 'min', source: 'control check.glucose' },
      { value: 5000, kind: 'max', source: 'control check.glucose' },
    ]);
  });

  it('has none for a channel nothing limits', () => {
    expect(facts.telemetryLimits('expand', 'ph', '1')).toEqual([]);
  });
});
