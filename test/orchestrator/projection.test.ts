/** The batch projection: one reducer folding a batch's entries into where it stands. */
import { describe, expect, it } from 'vitest';
import type { EntryData, EntryType, LogEntry } from '../../orchestrator/entries.ts';
import { mkdtempSync, readFileSync } from 'node:fs';
import { positionOf, resumePoint, scheduleFromText } from '../../orchestrator/batch-state.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchJournal } from '../../orchestrator/entries.ts';
import { EventLog } from '../../orchestrator/event-log.ts';
import { holdTimeAlert, projectBatch } from '../../orchestrator/projection.ts';
import { buildRecord } from '../../orchestrator/record-build.ts';
import { sample } from '../support/entries.ts';

type Step = { [T in EntryType]: [T, Partial<EntryData<T>>] }[EntryType];

/** Entries of one stream, in order, as the log would hand them back. */
function stream(...steps: Step[]): LogEntry[] {
  return steps.map(([type, data], i) => ({ seq: i + 1, stream: 'P-001', streamSeq: i + 1, at: 1000 * i, recordedAt: 0, previousHash: '', hash: `h${i}`, type, data: sample(type, data) }) as LogEntry);
}

describe('the batch projection', () => {
  it('counts the attempts of each step and knows the one still open', () => {
    const state = projectBatch(stream(['step.started', { step: 'wash', attempt: 1 }], ['step.failed', { step: 'wash', attempt: 1 }], ['step.started', { step: 'wash', attempt: 2 }], ['step.started', { step: 'seed', attempt: 1 }], ['step.completed', { step: 'seed' }]));
    expect(state.attempts).toEqual(new Map([['wash', 2], ['seed', 1]]));
    expect(state.openAttempts).toEqual(new Map([['wash', 2]]));
    expect([...state.done]).toEqual(['seed']);
  });

  it('counts failures since the last answer to a hold, not those that carried an answer out', () => {
    const failed = (answered?: true): Step => ['step.failed', { step: 'wash', ...(answered ? { answered } : {}) }];
    expect(projectBatch(stream(failed(), failed(), failed(true))).failuresSinceHold.get('wash')).toBe(2);
    expect(projectBatch(stream(failed(), failed(), ['hold.opened', {}], ['hold.resolved', {}], failed())).failuresSinceHold.get('wash')).toBe(1);
  });

  it("knows an answer carried out on the device work a hold left, so that a restart does not send it to the device again", () => {
    const held: Step[] = [['step.started', { step: 'electroporate' }], ['hold.opened', { step: 'electroporate' }]];
    // The answer is entry 3; what carries it out on the device names it.
    const continued = projectBatch(stream(...held, ['hold.resolved', { action: 'continue', option: 'retry' }], ['command.continued', { answer: 3, option: 'retry' }]));
    expect(continued.pendingHold).toBeUndefined();
    const resumed = projectBatch(stream(...held, ['hold.resolved', { action: 'retry' }], ['command.resumed', { answer: 3, resumed: true }]));
    expect(resumed.pendingHold).toBeUndefined();
    // A skip still owes the batch its skip once the device's command is cancelled.
    const cancelled = projectBatch(stream(...held, ['hold.resolved', { action: 'skip' }], ['command.cancelled', { answer: 3, cancelled: true }]));
    expect(cancelled.pendingHold).toMatchObject({ answered: true, deviceWorkSettled: true });
    // Device work that carries out another (earlier) answer settles nothing of this one.
    const other = projectBatch(stream(...held, ['hold.resolved', { action: 'continue', option: 'retry' }], ['command.continued', { answer: 1, option: 'retry' }]));
    expect(other.pendingHold).toMatchObject({ answered: true });
    expect(other.pendingHold?.deviceWorkSettled).toBeUndefined();
  });

  it('keeps a hold pending until it is answered and acted on', () => {
    const held: Step[] = [['step.started', { step: 'wash' }], ['hold.opened', { step: 'wash' }]];
    expect(projectBatch(stream(...held)).pendingHold).toMatchObject({ answered: false, entry: { streamSeq: 2, data: { step: 'wash' } } });
    expect(projectBatch(stream(...held, ['hold.resolved', {}])).pendingHold).toMatchObject({ answered: true, entry: { streamSeq: 2 } });
    // Telemetry or an alarm after the answer is not acting on it; starting the step again is.
    expect(projectBatch(stream(...held, ['hold.resolved', {}], ['alarm', {}])).pendingHold?.answered).toBe(true);
    expect(projectBatch(stream(...held, ['hold.resolved', {}], ['step.started', { step: 'wash', attempt: 2 }])).pendingHold).toBeUndefined();
    expect(projectBatch(stream(...held, ['hold.resolved', {}], ['step.started', { step: 'wash', attempt: 2 }], ['hold.opened', { step: 'seed' }])).pendingHold).toMatchObject({ answered: false, entry: { data: { step: 'seed' } } });
  });

  it('keeps a request for a hold until a hold takes it up or the batch finishes', () => {
    const requested: Step = ['hold.requested', { reason: 'glove breach' }];
    expect(projectBatch(stream(requested)).holdRequest).toMatchObject({ streamSeq: 1, data: { reason: 'glove breach' } });
    expect(projectBatch(stream(requested, ['hold.opened', { kind: 'command-failed' }])).holdRequest?.streamSeq).toBe(1);
    expect(projectBatch(stream(requested, ['hold.opened', { kind: 'operator', request: 1 }])).holdRequest).toBeUndefined();
    expect(projectBatch(stream(requested, ['batch.completed', {}])).holdRequest).toBeUndefined();
  });

  it('follows the hold time: running until it ends, the last one remembered', () => {
    const started: Step = ['hold-time.started', { step: 'wash', maxHoldSeconds: 1200, deadline: '', deadlineMs: 5000 }];
    expect(projectBatch(stream(started)).holdTime).toEqual({ step: 'wash', deadlineMs: 5000, maxHoldSeconds: 1200 });
    const ended = projectBatch(stream(started, ['hold-time.ended', {}]));
    expect(ended.holdTime).toBeUndefined();
    expect(ended.lastHoldTime).toEqual({ step: 'wash', deadlineMs: 5000, maxHoldSeconds: 1200 });
    expect(projectBatch(stream(started, ['hold-time.ended', {}], ['hold-time.started', { step: 'wash', maxHoldSeconds: 1200, deadline: '', deadlineMs: 5000, reopened: true }])).holdTime?.deadlineMs).toBe(5000);
  });

  it('knows the module the batch holds and the commands sent and not finished', () => {
    const state = projectBatch(
      stream(
        ['module.reserved', { module: 'sep-1', lane: 'lane-1' }],
        ['module.reserved', { module: 'ep-1', lane: 'lane-1' }],
        ['module.released', { module: 'sep-1' }],
        ['command.issued', { key: 'k1', module: 'ep-1', capability: 'electroporate', step: 'electroporate' }],
        ['command.accepted', { key: 'k1' }],
        ['command.issued', { key: 'k2', module: 'ep-1', capability: 'electroporate', step: 'electroporate' }],
        ['command.failed', { key: 'k2' }],
        ['command.issued', { key: 'k3', module: 'ep-1', capability: 'electroporate', step: 'electroporate' }],
        ['command.completed', { key: 'k3' }],
      ),
    );
    expect(state.module).toBe('ep-1');
    expect([...state.pendingCommands.keys()]).toEqual(['k1']);
    expect(state.pendingCommands.get('k1')).toMatchObject({ module: 'ep-1', capability: 'electroporate', token: { protocol: 'sila2' } });
    expect(projectBatch(stream(['module.reserved', { module: 'ep-1' }], ['module.released', { module: 'ep-1' }])).module).toBeUndefined();
  });

  it("keeps what a step's latest attempt did: its module, its run's results, the controls it failed", () => {
    const run = (key: string, results: Record<string, number>): Step[] => [
      ['command.issued', { key, module: 'ep-1', capability: 'electroporate', step: 'electroporate' }],
      ['command.completed', { key, results }],
    ];
    const state = projectBatch(
      stream(
        ['step.started', { step: 'electroporate', attempt: 1 }],
        ['module.reserved', { module: 'ep-1' }],
        ...run('P-001:electroporate:1:run', { viability: 80 }),
        ['step.failed', { step: 'electroporate', attempt: 1 }],
        ['step.started', { step: 'electroporate', attempt: 2 }],
        ['module.reserved', { module: 'ep-2' }],
        ...run('P-001:electroporate:2:sample.0', { viability: 61 }),
        ...run('P-001:electroporate:2:run', { viability: 40 }),
        ['control.checked', { step: 'electroporate', result: 'viability', value: 40, unit: '%', min: 70, max: null, pass: false }],
        ['control.checked', { step: 'electroporate', result: 'recovery', value: 90, unit: '%', min: 50, max: null, pass: true }],
        ['control.checked', { step: 'sample', parentStep: 'electroporate', result: 'viability', value: 61, unit: '%', min: 70, max: null, pass: false }],
      ),
    );
    expect(state.lastAttempts.get('electroporate')).toEqual({ attempt: 2, module: 'ep-2', ran: true, results: { viability: 40 }, failedControls: [{ result: 'viability', value: 40, unit: '%', min: 70, max: null }] });
    expect(projectBatch(stream(['step.started', { step: 'wash', attempt: 1 }], ['module.reserved', { module: 'sep-1' }])).lastAttempts.get('wash')).toEqual({ attempt: 1, module: 'sep-1', ran: false, failedControls: [] });
    // What a `when` condition reads: the latest number of each result, per step, whichever command gave it.
    expect(state.latestResults.get('electroporate')).toEqual(new Map([['viability', 40]]));
  });

  it('knows the latest result of each step even when a later command did not report it as a number', () => {
    const state = projectBatch(
      stream(
        ['command.issued', { key: 'k1', module: 'ep-1', capability: 'count', step: 'count' }],
        ['command.completed', { key: 'k1', results: { cells: 5, viability: 90 } }],
        ['command.issued', { key: 'k2', module: 'ep-1', capability: 'count', step: 'count' }],
        ['command.completed', { key: 'k2', results: { cells: null, viability: 85 } }],
      ),
    );
    expect(state.latestResults.get('count')).toEqual(new Map([['cells', 5], ['viability', 85]]));
  });

  it('remembers the alarms and deviations raised for a hold time, and how often moving out was answered', () => {
    const state = projectBatch(
      stream(
        ['alarm', { kind: 'hold-time', holdOf: 'wash', deadlineMs: 5000 }],
        ['deviation', { kind: 'hold-time-exceeded', holdOf: 'wash', deadlineMs: 5000 }],
        ['alarm', { kind: 'communication' }],
        ['hold.opened', { step: 'finish', actions: ['retry', 'abort'] }],
        ['hold.resolved', { step: 'finish' }],
        ['hold.opened', { step: 'finish', actions: ['retry', 'abort'] }],
        ['hold.resolved', { step: 'finish' }],
        ['hold.resolved', { step: 'wash' }],
      ),
    );
    expect([...state.holdTimeAlerts]).toEqual([holdTimeAlert('alarm', 'wash', 5000), holdTimeAlert('deviation', 'wash', 5000)]);
    expect(state.finishAnswers).toBe(2);
    expect(state.lastAnswer).toMatchObject({ streamSeq: 8, data: { step: 'wash' } });
  });

  it('knows how the batch started and ended, the material removed by hand, the last stop and the head of its stream', () => {
    const state = projectBatch(stream(['batch.started', {}], ['batch.interrupted', {}], ['batch.quarantined', { stuck: true }], ['material.removed', { from: 'sep-1' }]));
    expect(state).toMatchObject({ started: { streamSeq: 1 }, end: { type: 'batch.quarantined', streamSeq: 3 }, finished: 'quarantined', removed: { data: { from: 'sep-1' } }, lastStop: 'interrupted', head: 'h3' });
    expect(projectBatch(stream(['batch.interrupted', {}], ['batch.resumed', {}])).lastStop).toBe('resumed');
    expect(projectBatch(stream(['hold.opened', {}], ['hold.resolved', { action: 'skip' }])).pendingHold).toMatchObject({ answered: true, answer: { data: { action: 'skip' } } });
  });

  it('names where a resumed batch enters its step: running when the open attempt sent its command, the window the restart came before', () => {
    const file = 'test/fixtures/schedules/short.yaml';
    const schedule = scheduleFromText({ file, text: readFileSync(file, 'utf8') });
    const at = (state: ReturnType<typeof projectBatch>) => resumePoint(schedule, state, positionOf(schedule, state));
    const washed: Step[] = [['step.started', { step: 'wash', attempt: 1 }], ['step.completed', { step: 'wash' }]];
    const started: Step[] = [...washed, ['hold-time.started', { step: 'wash' }], ['step.started', { step: 'electroporate', attempt: 1 }], ['module.reserved', { module: 'ep-1' }]];
    const sent: Step = ['command.issued', { key: 'P-001:electroporate:1:run', module: 'ep-1', capability: 'electroporate', step: 'electroporate' }];
    expect(at(projectBatch(stream(...started, sent)))).toEqual({ step: 'electroporate', resume: { state: 'running', attempt: 1, module: 'ep-1' } });
    expect(at(projectBatch(stream(...started, sent, ['command.accepted', { key: 'P-001:electroporate:1:run' }])))).toMatchObject({ resume: { state: 'running' } });
    // Before its command was sent, the attempt starts from the top (and finds itself open); so it does with a hold asked for.
    expect(at(projectBatch(stream(...started)))).toBeUndefined();
    expect(at(projectBatch(stream(...started, sent, ['hold.requested', {}])))).toBeUndefined();
    // A failed attempt is not resumed; held, the batch goes to its hold.
    expect(at(projectBatch(stream(...started, sent, ['step.failed', { step: 'electroporate', attempt: 1 }])))).toBeUndefined();
    expect(at(projectBatch(stream(...started, sent, ['hold.opened', { step: 'electroporate' }])))).toBeUndefined();
    // Completed, its window not opened: the window after wash opens, from when wash completed (entry 2, at 1000).
    expect(at(projectBatch(stream(...washed)))).toEqual({ step: 'wash', resume: { state: 'holdTimeWindow', since: 1000 } });
    expect(at(projectBatch(stream(...washed, ['hold-time.started', { step: 'wash' }])))).toBeUndefined();
  });

  it('folds a real batch of a database into a finished one with nothing left open', () => {
    const log = new EventLog('test/fixtures/records/main-format.db', { readonly: true });
    const state = projectBatch(log.stream('P-001'));
    const completed = buildRecord(log, 'P-001').steps.filter((s) => s.outcome === 'completed').map((s) => s.step);
    log.close();
    expect(state.finished).toBe('completed');
    for (const open of [state.pendingHold, state.holdRequest, state.holdTime, state.module]) expect(open).toBeUndefined();
    expect(state.lastHoldTime).toMatchObject({ step: 'drain' });
    expect(state.openAttempts.size).toBe(0);
    expect(state.pendingCommands.size).toBe(0);
    expect([...state.done].sort()).toEqual([...completed].sort());
    expect(completed.length).toBeGreaterThanOrEqual(5);
  });

  it("is kept up to date as entries are appended, by this process or another, without refolding the stream", () => {
    const file = join(mkdtempSync(join(tmpdir(), 'wc-projection-')), 'run.db');
    const log = new EventLog(file);
    const other = new EventLog(file); // an operator's `workcell resolve`, say
    try {
      const journal = new BatchJournal('P-001', log, () => 1000);
      journal.write('step.started', sample('step.started', { step: 'wash', attempt: 1 }));
      const state = journal.state();
      expect(state.openAttempts).toEqual(new Map([['wash', 1]]));
      journal.write('step.failed', sample('step.failed', { step: 'wash', attempt: 1 }));
      journal.write('hold.opened', sample('hold.opened', { step: 'wash' }));
      expect(journal.state().pendingHold).toMatchObject({ answered: false });
      other.append({ stream: 'P-001', type: 'hold.resolved', at: 2000, data: sample('hold.resolved', { step: 'wash' }) });
      log.append({ stream: 'P-001', type: 'telemetry', at: 2500, data: sample('telemetry') });
      expect(journal.state().pendingHold).toMatchObject({ answered: true });
      expect(journal.state().failuresSinceHold.size).toBe(0);
      // The same as folding the whole stream from the start.
      const whole = projectBatch(log.stream('P-001', { withoutTelemetry: true }));
      expect(journal.state()).toEqual(whole);
      expect(log.stream('P-001', { afterStreamSeq: 3 }).map((e) => e.type)).toEqual(['hold.resolved', 'telemetry']);
    } finally {
      other.close();
      log.close();
    }
  });
});
