/**
 * Complete entries for tests that write a log by hand: the log refuses data its type's schema does
 * not allow, so a test gives the fields it is about and takes the rest from here.
 */
import Database from 'better-sqlite3';
import { ENTRY_FORMAT_VERSION, type EntryData, type EntryType } from '../../orchestrator/entries.ts';
import { canonicalJson, entryHash, type EventLog } from '../../orchestrator/event-log.ts';

const signature = { user: 'qa.lee', printedName: 'Li Lee', meaning: 'approval to retry the step', signedAt: '2026-01-01T00:00:00.000Z', contentHash: '0'.repeat(64) };
const token = { module: 'sep-1', capability: 'wash', protocol: 'sila2' as const, id: '00000000-0000-4000-8000-000000000000' };

const SAMPLES: { [T in EntryType]?: EntryData<T> } = {
  'batch.started': {
    batchId: 'P-001',
    patient: 'P-001',
    chainOfIdentity: 'COI-P-001',
    bagId: 'BAG-P-001',
    lane: 'lane-1',
    layout: { id: 'test', file: 'layouts/test.yaml' },
    schedule: { id: 'test', version: '1', contentHash: '0'.repeat(64), file: 'schedules/test.yaml', text: '' },
  },
  'step.started': { step: 'wash', attempt: 1 },
  'step.completed': { step: 'wash', attempt: 1, module: 'sep-1', parameters: {}, parameterUnits: {}, results: {}, resultUnits: {} },
  'hold.opened': { step: 'wash', kind: 'command-failed', message: 'sep-1 failed', actions: ['retry', 'skip', 'abort'], module: null },
  'hold.resolved': { step: 'wash', hold: 1, action: 'retry', reason: 'checked', user: signature.user, signature },
  'batch.completed': { output: 'outbound', bagId: 'BAG-P-001' },
  'batch.quarantined': { step: 'wash', location: 'sep-1', bagId: 'BAG-P-001', stuck: true },
  alarm: { kind: 'communication', message: 'sep-1 did not answer' },
  deviation: { kind: 'out-of-limit', message: 'viability out of limits' },
  telemetry: { module: 'sep-1', channel: 'temperature', value: 21, unit: 'degC' },
  'run.started': { layoutFile: 'layouts/test.yaml', layoutHash: '0'.repeat(64), timeScale: 1, seed: 1, sim: true, clock: { wallAnchor: 0, simAtAnchor: 0 }, command: 'run', pid: 1 },
  'em.plate.placed': { plateId: 'SP-1', zone: 'isolator', grade: 'A', location: 'sp-1', handler: 'sph-1' },
  'em.result': { plateId: 'SP-1', zone: 'isolator', grade: 'A', location: 'sp-1', exposure: { from: '2026-01-01T00:00:00.000Z', until: '2026-01-01T04:00:00.000Z' }, colonies: 0, limit: 1, withinLimit: true },
  'command.issued': { key: 'P-001:wash:1:run', module: 'sep-1', capability: 'wash', parameters: {}, step: 'wash', itemId: null },
  'command.accepted': { key: 'P-001:wash:1:run', module: 'sep-1', token, repeated: false },
  'command.completed': { key: 'P-001:wash:1:run', module: 'sep-1', results: {}, resultUnits: {} },
  'command.failed': { key: 'P-001:wash:1:run', module: 'sep-1', message: 'sep-1 failed', code: null, errorKind: 'device' },
  'em.plate.read': { plateId: 'SP-1', zone: 'isolator', grade: 'A', location: 'sp-1', exposure: { from: '2026-01-01T00:00:00.000Z', until: '2026-01-01T04:00:00.000Z' }, colonies: 0, limit: 1, withinLimit: true },
  'step.failed': { step: 'wash', attempt: 1, message: 'sep-1 failed', beforeLoad: false },
  'material.removed': { from: 'ep-1', bagId: 'BAG-P-001', reason: 'taken out by hand', user: signature.user, signature },
  'batch.interrupted': { step: 'wash', phase: 'running', message: 'the orchestrator stopped' },
  'batch.resumed': { runId: null, afterCrash: false, position: { at: 'step', step: 'wash' }, message: 'resumed after a clean stop' },
};

/** Appends, chained like any entry, one of a type this version does not know (as a later version would write it). */
export function appendUnknownEntry(log: EventLog, entry: { stream: string; type: string; at: number; data: Record<string, unknown> }): void {
  const db = new Database(log.file);
  try {
    const last = db.prepare('SELECT stream_seq, hash FROM events WHERE stream = ? ORDER BY stream_seq DESC LIMIT 1').get(entry.stream) as { stream_seq: number; hash: string } | undefined;
    const row = { ...entry, streamSeq: (last?.stream_seq ?? 0) + 1, recordedAt: Date.now(), previousHash: last?.hash ?? '0'.repeat(64), formatVersion: ENTRY_FORMAT_VERSION };
    db.prepare('INSERT INTO events (stream, stream_seq, type, at, recorded_at, data, previous_hash, hash, format_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(row.stream, row.streamSeq, row.type, row.at, row.recordedAt, canonicalJson(row.data), row.previousHash, entryHash(row), row.formatVersion);
  } finally {
    db.close();
  }
}

/**
 * An entry's data: the fields given, the others from a complete example of its type (a type without
 * an example here takes only the fields given, which the log checks as it would any entry).
 */
export function sample<T extends EntryType>(type: T, fields: Partial<EntryData<T>> = {}): EntryData<T> {
  return { ...(SAMPLES[type] ?? {}), ...fields } as EntryData<T>;
}
