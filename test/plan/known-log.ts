/**
 * A small log written by hand, with figures one can check on paper: two batches on the two-lane
 * layout (test fixture without bioreactors) through the short schedule. P-001 runs straight through;
 * P-002 waits for the shared electroporator (11 min busy with P-001, then its 15 min line clearance),
 * then is held 131 min at concentrate, which exceeds its hold time after electroporate by 12 min.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLog, type NewEntry } from '../../orchestrator/event-log.ts';
import type { EntryData, EntryType } from '../../orchestrator/entries/index.ts';

export const T0 = Date.UTC(2027, 0, 4, 8);
export const MIN = 60_000;
export const at = (minutes: number) => T0 + minutes * MIN;

const signature = { user: 'qa.lee', printedName: 'Li Lee', meaning: 'approval to retry the step', signedAt: '2027-01-04T11:20:00.000Z', contentHash: '0'.repeat(64) };

type Timed = NewEntry & { order: number };

export function knownLog(): EventLog {
  const entries: Timed[] = [];
  const add = <T extends EntryType>(stream: string, minute: number, type: T, data: EntryData<T>) => entries.push({ stream, type, at: at(minute), data, order: entries.length } as Timed);
  const started = (batchId: string, lane: string) =>
    add(batchId, 0, 'batch.started', { batchId, patient: batchId, chainOfIdentity: `COI-${batchId}`, bagId: `BAG-${batchId}`, lane, layout: { id: 'two-lane', file: 'two-lane-sila.yaml' }, schedule: { id: 'short', version: '1.0.0', contentHash: '0'.repeat(64), file: 'short.yaml', text: '' } });
  const command = (batchId: string, from: number, until: number, module: string, capability: string, step: string) => {
    const key = `${batchId}:${step}:${from}`;
    add(batchId, from, 'command.issued', { key, module, capability, parameters: {}, step, itemId: null });
    add(batchId, until, 'command.completed', { key, module, results: {}, resultUnits: {} });
  };
  const transfer = (batchId: string, from: number, place: string, to: string) => {
    command(batchId, from, from + 1, 'arm-1', 'transfer', 'transfer');
    add(batchId, from + 1, 'transfer.completed', { arm: 'arm-1', from: place, to, itemId: `BAG-${batchId}`, scannedAtPick: `BAG-${batchId}`, scannedAtPlace: `BAG-${batchId}` });
  };
  const step = (batchId: string, minute: number, id: string, module: string) => add(batchId, minute, 'step.completed', { step: id, attempt: 1, module, parameters: {}, parameterUnits: {}, results: {}, resultUnits: {} });
  const holdTime = (batchId: string, minute: number, id: string) => add(batchId, minute, 'hold-time.started', { step: id, maxHoldSeconds: 7200, deadline: new Date(at(minute + 120)).toISOString(), deadlineMs: at(minute + 120) });
  const holdEnded = (batchId: string, minute: number, id: string, deadline: number) => add(batchId, minute, 'hold-time.ended', { step: id, deadlineMs: at(deadline), maxHoldSeconds: 7200, withinHoldTime: minute <= deadline });
  const clearance = (minute: number, after: string) => {
    add('workcell', minute, 'line-clearance.started', { module: 'ep-1', after, procedure: 'SOP-LC-EP-003', until: at(minute + 15) });
    add('workcell', minute + 15, 'line-clearance.completed', { module: 'ep-1', after, procedure: 'SOP-LC-EP-003' });
  };

  // P-001, lane 1: straight through.
  started('P-001', 'lane-1');
  add('P-001', 0, 'step.started', { step: 'wash', attempt: 1 });
  add('P-001', 0, 'module.reserved', { module: 'sep-1', lane: 'lane-1' });
  transfer('P-001', 0, 'intake', 'sep-1.port');
  command('P-001', 1, 31, 'sep-1', 'wash', 'wash');
  step('P-001', 31, 'wash', 'sep-1');
  holdTime('P-001', 31, 'wash');
  add('P-001', 31, 'step.started', { step: 'electroporate', attempt: 1 });
  add('P-001', 31, 'module.reserved', { module: 'ep-1', lane: 'lane-1' });
  transfer('P-001', 31, 'sep-1.port', 'ep-1.port');
  add('P-001', 32, 'module.released', { module: 'sep-1' });
  holdEnded('P-001', 32, 'wash', 151);
  command('P-001', 32, 42, 'ep-1', 'electroporate', 'electroporate');
  step('P-001', 42, 'electroporate', 'ep-1');
  holdTime('P-001', 42, 'electroporate');
  add('P-001', 42, 'step.started', { step: 'concentrate', attempt: 1 });
  add('P-001', 42, 'module.reserved', { module: 'sep-1', lane: 'lane-1' });
  transfer('P-001', 42, 'ep-1.port', 'sep-1.port');
  add('P-001', 43, 'module.released', { module: 'ep-1' });
  clearance(43, 'P-001');
  holdEnded('P-001', 43, 'electroporate', 162);
  command('P-001', 43, 73, 'sep-1', 'harvest', 'concentrate');
  step('P-001', 73, 'concentrate', 'sep-1');
  transfer('P-001', 73, 'sep-1.port', 'outbound');
  add('P-001', 74, 'module.released', { module: 'sep-1' });
  add('P-001', 74, 'batch.completed', { output: 'outbound', bagId: 'BAG-P-001' });

  // P-002, lane 2: waits for the electroporator, then is held at concentrate.
  started('P-002', 'lane-2');
  add('P-002', 0, 'step.started', { step: 'wash', attempt: 1 });
  add('P-002', 0, 'module.reserved', { module: 'sep-2', lane: 'lane-2' });
  transfer('P-002', 1, 'intake', 'sep-2.port');
  command('P-002', 2, 32, 'sep-2', 'wash', 'wash');
  step('P-002', 32, 'wash', 'sep-2');
  holdTime('P-002', 32, 'wash');
  add('P-002', 32, 'step.started', { step: 'electroporate', attempt: 1 });
  add('P-002', 58, 'module.reserved', { module: 'ep-1', lane: 'lane-2' });
  transfer('P-002', 58, 'sep-2.port', 'ep-1.port');
  add('P-002', 59, 'module.released', { module: 'sep-2' });
  holdEnded('P-002', 59, 'wash', 152);
  command('P-002', 59, 69, 'ep-1', 'electroporate', 'electroporate');
  step('P-002', 69, 'electroporate', 'ep-1');
  holdTime('P-002', 69, 'electroporate');
  add('P-002', 69, 'step.started', { step: 'concentrate', attempt: 1 });
  add('P-002', 69, 'hold.opened', { step: 'concentrate', kind: 'operator', message: 'check the bag label', actions: ['retry', 'abort'], module: 'ep-1' });
  add('P-002', 189, 'deviation', { kind: 'hold-time-exceeded', message: 'hold time after electroporate (2 h) exceeded at 11:09 UTC', holdOf: 'electroporate', deadlineMs: at(189) });
  add('P-002', 200, 'hold.resolved', { step: 'concentrate', hold: 999, action: 'retry', reason: 'label checked', user: signature.user, signature });
  add('P-002', 200, 'module.reserved', { module: 'sep-2', lane: 'lane-2' });
  transfer('P-002', 200, 'ep-1.port', 'sep-2.port');
  add('P-002', 201, 'module.released', { module: 'ep-1' });
  clearance(201, 'P-002');
  holdEnded('P-002', 201, 'electroporate', 189);
  command('P-002', 201, 231, 'sep-2', 'harvest', 'concentrate');
  step('P-002', 231, 'concentrate', 'sep-2');
  transfer('P-002', 231, 'sep-2.port', 'outbound');
  add('P-002', 232, 'module.released', { module: 'sep-2' });
  add('P-002', 232, 'batch.completed', { output: 'outbound', bagId: 'BAG-P-002' });

  const log = new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-plan-log-')), 'known.db'));
  const ordered = entries.sort((a, b) => a.at - b.at || a.order - b.order);
  // hold.resolved names the hold.opened it answers by its position in the stream, known once written.
  for (const { order: _order, ...entry } of ordered) {
    if (entry.type === 'hold.resolved') {
      const opened = log.stream(entry.stream).find((e) => e.type === 'hold.opened')!;
      log.append({ ...entry, data: { ...entry.data, hold: opened.streamSeq } });
    } else log.append(entry);
  }
  return log;
}
