/**
 * Tampering as someone with write access to a database (but not to its checkpoint key) would: drop the
 * append-only triggers, edit or delete rows, then recompute every hash chain so that it verifies again.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { entryHash, EventLog, WORKCELL_STREAM, type HashedEntry } from '../../orchestrator/event-log.ts';
import { sample } from './entries.ts';
import { resolveHold } from '../../orchestrator/orchestrator.ts';
import { enrolTestOperators, QA } from './operators.ts';

const GENESIS = '0'.repeat(64);

export function forge(file: string, edit: (db: Database.Database) => void, options: { rechain?: boolean } = {}): void {
  const db = new Database(file);
  try {
    for (const trigger of ['events_are_never_updated', 'events_are_never_deleted', 'checkpoints_are_never_changed', 'checkpoints_are_never_deleted', 'checkpoint_keys_are_never_changed', 'checkpoint_keys_are_never_deleted']) db.exec(`DROP TRIGGER IF EXISTS ${trigger}`);
    edit(db);
    if (options.rechain !== false) rechain(db);
  } finally {
    db.close();
  }
}

/** Renumbers every stream without gaps and recomputes every hash: the chains verify again. */
function rechain(db: Database.Database): void {
  const rows = db.prepare('SELECT * FROM events ORDER BY seq').all() as Array<{ seq: number; stream: string; stream_seq: number; type: string; at: number; recorded_at: number; data: string; format_version: number | null }>;
  const heads = new Map<string, { streamSeq: number; hash: string }>();
  const update = db.prepare('UPDATE events SET stream_seq = ?, previous_hash = ?, hash = ? WHERE seq = ?');
  db.transaction(() => {
    for (const row of rows) {
      const head = heads.get(row.stream) ?? { streamSeq: 0, hash: GENESIS };
      const entry: HashedEntry = { stream: row.stream, streamSeq: head.streamSeq + 1, type: row.type, at: row.at, recordedAt: row.recorded_at, data: JSON.parse(row.data) as unknown, previousHash: head.hash, formatVersion: row.format_version ?? undefined };
      const hash = entryHash(entry);
      update.run(entry.streamSeq, entry.previousHash, hash, row.seq);
      heads.set(row.stream, { streamSeq: entry.streamSeq, hash });
    }
  })();
}

/** Replaces a JSON value inside an entry's data. */
export function editData(db: Database.Database, seq: number, change: (data: Record<string, any>) => void): void {
  const row = db.prepare('SELECT data FROM events WHERE seq = ?').get(seq) as { data: string };
  const data = JSON.parse(row.data) as Record<string, any>;
  change(data);
  db.prepare('UPDATE events SET data = ? WHERE seq = ?').run(JSON.stringify(data), seq);
}

/** Two finished batch records, one with a deviation and a signed hold answer, closed cleanly. */
export function recordedBatches(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'workcell-tamper-')), 'run.db');
  const log = new EventLog(file);
  enrolTestOperators(log);
  log.append({ stream: WORKCELL_STREAM, type: 'run.started', at: 500, data: sample('run.started', { command: 'run' }) });
  for (const batchId of ['P-001', 'P-002']) {
    log.append({ stream: batchId, type: 'batch.started', at: 1000, data: sample('batch.started', { batchId, patient: batchId, chainOfIdentity: `COI-${batchId}`, bagId: `BAG-${batchId}`, lane: 'lane-1' }) });
    log.append({ stream: batchId, type: 'step.started', at: 1100, data: { step: 'wash', attempt: 1 } });
    log.append({ stream: batchId, type: 'step.completed', at: 1200, data: sample('step.completed', { step: 'wash', results: { viability: 71.5 } }) });
  }
  log.append({ stream: 'P-001', type: 'deviation', at: 1300, data: { kind: 'out-of-limit', message: 'wash: viability 71.5 % below 80 %' } });
  log.append({ stream: 'P-001', type: 'hold.opened', at: 1400, data: sample('hold.opened', { step: 'electroporate', kind: 'command-failed', message: 'HardwareFault', actions: ['retry', 'skip', 'abort'] }) });
  resolveHold(log, 'P-001', { action: 'retry', reason: 'cuvette reseated' }, QA, 1500);
  for (const batchId of ['P-001', 'P-002']) log.append({ stream: batchId, type: 'batch.completed', at: 2000, data: sample('batch.completed') });
  log.close();
  return file;
}
