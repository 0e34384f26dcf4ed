/**
 * Signed checkpoints: what makes the hash chains tamper-evident against someone who can write the
 * database. A SHA-256 chain has no secret: whoever deletes the last entries of a batch, or edits one and
 * recomputes every hash after it, leaves a chain that verifies. A checkpoint is an Ed25519 signature over
 * every stream's entry count and head hash, the number of streams and of entries, up to a log position.
 * The private key lives in a file beside the database (`<db>.key`, 0600), never in it; the log records
 * the public key. Each checkpoint names the one before it (its hash) and its number, so a checkpoint
 * cannot be dropped from the middle either. `verify` replays the log and compares it, at each
 * checkpoint's position, with what was signed: a truncated tail or a rewritten chain is named.
 *
 * What a checkpoint cannot show: entries appended after the latest one (at most a minute's worth while
 * a process appends; none after a clean close), and a rollback of the log and its checkpoints together
 * to an earlier state. The PostgreSQL copy, which holds the checkpoints too, shows the latter.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { canonicalJson, type ChainBreak, type StoredRow } from './log-entry.ts';
import { WALL_CLOCK, type Clock } from '../drivers/clock.ts';

/** At most this long between checkpoints while a process appends (wall clock). */
export const CHECKPOINT_INTERVAL_MS = 60_000;

export interface StreamHead {
  entries: number;
  head: string;
}

export interface Checkpoint {
  number: number;
  keyId: string;
  /** Every entry up to this log position is covered. */
  upToSeq: number;
  entries: number;
  streamCount: number;
  streams: Record<string, StreamHead>;
  /** Hash of the checkpoint before (null for the first). */
  previous: string | null;
  signedAt: string;
  /** Ed25519 over the canonical JSON of the above and the log's id, base64. */
  signature: string;
}

export interface CheckpointKey {
  keyId: string;
  algorithm: 'Ed25519';
  /** SubjectPublicKeyInfo, DER, base64. */
  publicKey: string;
  recordedAt: string;
  /** The key this one follows, and why (its file was missing, say). */
  replaces: string | null;
  reason: string;
}

export const CHECKPOINT_SCHEMA = `
CREATE TABLE IF NOT EXISTS checkpoint_keys (
  key_id TEXT PRIMARY KEY,
  algorithm TEXT NOT NULL,
  public_key TEXT NOT NULL,
  recorded_at TEXT NOT NULL,
  replaces TEXT,
  reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
  number INTEGER PRIMARY KEY,
  data TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS checkpoints_are_never_changed BEFORE UPDATE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_are_never_deleted BEFORE DELETE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoint_keys_are_never_changed BEFORE UPDATE ON checkpoint_keys
  BEGIN SELECT RAISE(ABORT, 'checkpoint keys are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoint_keys_are_never_deleted BEFORE DELETE ON checkpoint_keys
  BEGIN SELECT RAISE(ABORT, 'checkpoint keys are append-only'); END;
`;

export function keyFileOf(database: string): string {
  return `${database}.key`;
}

function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** The key id of a key file, or undefined when it is missing or unreadable (another user's, say). */
export function keyIdOfFile(keyFile: string): string | undefined {
  try {
    return keyIdOf(createPublicKey(createPrivateKey(readFileSync(keyFile, 'utf8'))));
  } catch {
    return undefined;
  }
}

/** The signing key of a log: read from its file, or made (0600, never overwriting) when there is none. */
function loadOrCreateKey(keyFile: string): { privateKey: KeyObject; publicKey: KeyObject; keyId: string; created: boolean } {
  if (existsSync(keyFile)) {
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(readFileSync(keyFile, 'utf8'));
    } catch (error) {
      throw new Error(`cannot read the checkpoint key ${keyFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${keyFile} is not an Ed25519 key`);
    const publicKey = createPublicKey(privateKey);
    return { privateKey, publicKey, keyId: keyIdOf(publicKey), created: false };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const fd = openSync(keyFile, 'wx', 0o600);
  try {
    writeSync(fd, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  } finally {
    closeSync(fd);
  }
  return { privateKey, publicKey, keyId: keyIdOf(publicKey), created: true };
}

function signedContent(logId: string, checkpoint: Omit<Checkpoint, 'signature'>): Buffer {
  const { number, keyId, upToSeq, entries, streamCount, streams, previous, signedAt } = checkpoint;
  return Buffer.from(canonicalJson({ log: logId, number, keyId, upToSeq, entries, streamCount, streams, previous, signedAt }));
}

/** Whether `checkpoint` is signed by `key` for the log `logId`. */
export function signatureValid(logId: string, checkpoint: Checkpoint, key: CheckpointKey): boolean {
  const { signature, ...unsigned } = checkpoint;
  const publicKey = createPublicKey({ key: Buffer.from(key.publicKey, 'base64'), format: 'der', type: 'spki' });
  return checkpoint.keyId === key.keyId && verify(null, signedContent(logId, unsigned), publicKey, Buffer.from(signature, 'base64'));
}

export function checkpointHash(checkpoint: Checkpoint): string {
  return createHash('sha256').update(canonicalJson(checkpoint)).digest('hex');
}

/** Reads a log's keys and checkpoints (none in a log written before checkpoints existed). */
export function readCheckpoints(db: Database.Database): { keys: CheckpointKey[]; checkpoints: Checkpoint[] } {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkpoints'").get() !== undefined;
  if (!exists) return { keys: [], checkpoints: [] };
  const keys = (db.prepare('SELECT * FROM checkpoint_keys ORDER BY rowid').all() as Array<Record<string, string | null>>).map(keyFromRow);
  const checkpoints = (db.prepare('SELECT data FROM checkpoints ORDER BY number').all() as Array<{ data: string }>).map((r) => JSON.parse(r.data) as Checkpoint);
  return { keys, checkpoints };
}

export function keyFromRow(row: Record<string, string | null>): CheckpointKey {
  return { keyId: String(row.key_id), algorithm: 'Ed25519', publicKey: String(row.public_key), recordedAt: String(row.recorded_at), replaces: row.replaces ?? null, reason: String(row.reason) };
}

/**
 * Writes the checkpoints of one log (a read-write EventLog holds one). The next checkpoint goes on from
 * the latest in the database, whoever wrote it, adding the entries appended since: a checkpoint never
 * re-reads what an earlier one covered, so tampering before it cannot be signed over (laundered).
 */
export class CheckpointWriter {
  private key: ReturnType<typeof loadOrCreateKey> | undefined;
  private lastWritten = 0;
  private readonly latest: Database.Statement<[], { data: string }>;
  private readonly since: Database.Statement<[number], { seq: number; stream: string; stream_seq: number; hash: string }>;
  private readonly insert: Database.Statement<[number, string]>;
  private readonly recordedKey: Database.Statement<[], { key_id: string }>;

  /** `clock` paces checkpoints: wall time by default, as an unsigned stretch of the log is a stretch of real time. */
  constructor(private readonly db: Database.Database, readonly keyFile: string, private readonly logId: () => string, private readonly clock: Pick<Clock, 'now'> = WALL_CLOCK) {
    db.exec(CHECKPOINT_SCHEMA);
    this.latest = db.prepare('SELECT data FROM checkpoints ORDER BY number DESC LIMIT 1');
    this.since = db.prepare('SELECT seq, stream, stream_seq, hash FROM events WHERE seq > ? ORDER BY seq');
    this.insert = db.prepare('INSERT INTO checkpoints (number, data) VALUES (?, ?)');
    this.recordedKey = db.prepare('SELECT key_id FROM checkpoint_keys LIMIT 1');
  }

  /** The first append of a process is checkpointed at once, later ones at most a minute apart. */
  get due(): boolean {
    return this.lastWritten === 0 || this.clock.now() - this.lastWritten >= CHECKPOINT_INTERVAL_MS;
  }

  /** Inside a write transaction: signs every entry appended since the latest checkpoint, if any. */
  write(): void {
    const previousData = this.latest.get()?.data;
    const previous = previousData === undefined ? undefined : (JSON.parse(previousData) as Checkpoint);
    const rows = this.since.all(previous?.upToSeq ?? 0);
    this.lastWritten = this.clock.now();
    if (rows.length === 0) return;
    // No checkpoint, yet the log records a key that signed here: its checkpoints were removed. Signing now
    // would sign over whatever was done with them (a forgery): the log stays unanchored, verify names why.
    if (!previous && this.recordedKey.get() !== undefined) return;
    const key = this.signingKey(previous?.keyId);
    const streams: Record<string, StreamHead> = { ...(previous?.streams ?? {}) };
    for (const row of rows) streams[row.stream] = { entries: row.stream_seq, head: row.hash };
    const unsigned: Omit<Checkpoint, 'signature'> = {
      number: (previous?.number ?? 0) + 1,
      keyId: key.keyId,
      upToSeq: rows.at(-1)!.seq,
      entries: (previous?.entries ?? 0) + rows.length,
      streamCount: Object.keys(streams).length,
      streams,
      previous: previous ? checkpointHash(previous) : null,
      signedAt: new Date(this.clock.now()).toISOString(),
    };
    const checkpoint: Checkpoint = { ...unsigned, signature: sign(null, signedContent(this.logId(), unsigned), key.privateKey).toString('base64') };
    this.insert.run(checkpoint.number, JSON.stringify(checkpoint));
  }

  /** The key file's key, recorded in the log the first time it signs there. */
  private signingKey(previousKeyId: string | undefined): ReturnType<typeof loadOrCreateKey> {
    this.key ??= loadOrCreateKey(this.keyFile);
    const key = this.key;
    const recorded = this.db.prepare('SELECT 1 FROM checkpoint_keys WHERE key_id = ?').get(key.keyId) !== undefined;
    if (!recorded) {
      const last = (this.db.prepare('SELECT key_id FROM checkpoint_keys ORDER BY rowid DESC LIMIT 1').get() as { key_id: string } | undefined)?.key_id ?? previousKeyId ?? null;
      const reason = last === null ? 'the first key of this log' : key.created ? `the key file ${this.keyFile} of key ${last} was missing; a new key signs from here` : `the key file ${this.keyFile} holds another key than ${last}`;
      this.db
        .prepare('INSERT INTO checkpoint_keys (key_id, algorithm, public_key, recorded_at, replaces, reason) VALUES (?, ?, ?, ?, ?, ?)')
        .run(key.keyId, 'Ed25519', key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), new Date(this.clock.now()).toISOString(), last, reason);
    }
    return key;
  }
}

export interface CheckpointReport {
  /** Checkpoints whose signature verified. */
  count: number;
  latest?: { number: number; signedAt: string; upToSeq: number; keyId: string };
  /** Entries after the latest checkpoint: not yet covered by one. */
  uncovered: number;
  /** Things a reader should know that are no break (a key that replaced another). */
  notes: string[];
}

/**
 * What the checkpoints cover, in words (`workcell verify` and the web record say it alike): the latest
 * signed checkpoint and what it covers, or that there is none.
 */
export function checkpointSummary(report: CheckpointReport): string {
  const latest = report.latest;
  if (!latest) return 'no signed checkpoint: a truncated tail or a recomputed chain would not show (a log written before checkpoints gets one from the next command that writes to it)';
  const covered = report.uncovered === 0 ? 'covers every entry' : `covers every entry up to log position ${latest.upToSeq}; ${report.uncovered} appended since are not covered yet`;
  return `signed checkpoint ${latest.number} of ${latest.signedAt} (key ${latest.keyId}) ${covered}`;
}

/** The checkpoints themselves, checked: what broke, the ones whose signature verified (by number, and by log position), notes. */
export interface CheckedCheckpoints {
  readonly breaks: readonly ChainBreak[];
  readonly valid: readonly Checkpoint[];
  readonly byPosition: readonly Checkpoint[];
  readonly notes: readonly string[];
}

const checkpointBreak = (message: string): ChainBreak => ({ stream: 'checkpoints', streamSeq: 0, problem: 'checkpoint', message });

/**
 * Checks a log's checkpoints by themselves: each signature with the recorded key, their numbering and
 * links, and that the key file beside the log (`keyFileKeyId`, if readable) signed some of them. What
 * this finds depends on the checkpoints and keys alone, not on the entries (checkpoint-verdicts.ts keeps it).
 */
export function checkCheckpointSequence(logId: string, recorded: { keys: readonly CheckpointKey[]; checkpoints: readonly Checkpoint[] }, keyFileKeyId?: string): CheckedCheckpoints {
  const breaks: ChainBreak[] = [];
  const notes: string[] = [];
  const keys = new Map(recorded.keys.map((k) => [k.keyId, k]));
  for (const k of recorded.keys) if (k.replaces) notes.push(`key ${k.keyId} replaced key ${k.replaces} at ${k.recordedAt}: ${k.reason}`);
  const fail = (message: string) => breaks.push(checkpointBreak(message));
  const valid: Checkpoint[] = [];
  let previous: Checkpoint | undefined;
  for (const checkpoint of recorded.checkpoints) {
    const expected = (previous?.number ?? 0) + 1;
    if (checkpoint.number !== expected) fail(`checkpoints ${expected}..${checkpoint.number - 1} are missing before checkpoint ${checkpoint.number}`);
    else if (checkpoint.previous !== (previous ? checkpointHash(previous) : null)) fail(`checkpoint ${checkpoint.number} does not follow checkpoint ${expected - 1}: a checkpoint was replaced`);
    const key = keys.get(checkpoint.keyId);
    if (!key) fail(`checkpoint ${checkpoint.number} is signed by key ${checkpoint.keyId}, which the log does not record`);
    else if (!signatureValid(logId, checkpoint, key)) fail(`checkpoint ${checkpoint.number}: its signature does not verify (altered, forged, or moved from another log)`);
    else valid.push(checkpoint);
    previous = checkpoint;
  }
  if (keyFileKeyId && !keys.has(keyFileKeyId)) fail(`the key file beside the log (key ${keyFileKeyId}) signed no checkpoint recorded in it: its checkpoints were removed`);
  else if (recorded.keys.length > 0 && recorded.checkpoints.length === 0) fail('the log records a checkpoint key but no checkpoint: its checkpoints were removed');
  return { breaks, valid, byPosition: [...valid].sort((a, b) => a.upToSeq - b.upToSeq), notes };
}

/**
 * Checks a log's checkpoints against its entries (given in log order): each checkpoint's signature with
 * the recorded key, their numbering and links, and at each checkpoint's position every stream's count and
 * head against what was signed. `keyFileKeyId`: the key of the file beside the database, if readable.
 * `onlyStream`: `entries` are that stream's alone (one batch's record), and only it is compared with
 * what each checkpoint signed; the checkpoints themselves are checked whole either way.
 */
export function verifyCheckpoints(logId: string, entries: readonly StoredRow[], recorded: { keys: readonly CheckpointKey[]; checkpoints: readonly Checkpoint[] }, keyFileKeyId?: string, onlyStream?: string): { breaks: ChainBreak[]; report: CheckpointReport } {
  return compareWithCheckpoints(entries, checkCheckpointSequence(logId, recorded, keyFileKeyId), onlyStream);
}

/**
 * Replays `entries` (in log order) and, at each valid checkpoint's position, compares every stream's
 * count and head with what was signed (`onlyStream`: that stream's alone); the breaks of the checkpoints
 * themselves come first.
 */
export function compareWithCheckpoints(entries: readonly StoredRow[], checked: CheckedCheckpoints, onlyStream?: string): { breaks: ChainBreak[]; report: CheckpointReport } {
  const breaks: ChainBreak[] = [...checked.breaks];
  const fail = (message: string, stream: string, streamSeq: number) => breaks.push({ stream, streamSeq, problem: message.includes('missing') ? 'truncated' : 'rewritten', message });
  const heads = new Map<string, StreamHead>();
  const reported = new Set<string>();
  let next = 0;
  const compare = (checkpoint: Checkpoint) => {
    const at = `checkpoint ${checkpoint.number} at ${checkpoint.signedAt}`;
    // One batch's record looks at its own stream in each checkpoint, not at every stream each one lists.
    const signedStreams = onlyStream === undefined ? Object.entries(checkpoint.streams) : onlyStream in checkpoint.streams ? [[onlyStream, checkpoint.streams[onlyStream]!] as const] : [];
    for (const [stream, signed] of signedStreams) {
      if (reported.has(stream)) continue;
      const now = heads.get(stream);
      const problem =
        !now ? `${stream}: all ${signed.entries} entries missing since ${at}`
        : now.entries < signed.entries ? `${stream}: ${signed.entries - now.entries} ${signed.entries - now.entries === 1 ? 'entry' : 'entries'} missing since ${at}`
        : now.entries > signed.entries ? `${stream}: ${now.entries - signed.entries} entries more than the signed ${at} holds, before its log position ${checkpoint.upToSeq}`
        : now.head !== signed.head ? `${stream}: head differs from the signed ${at} (entry ${signed.entries}): the chain was rewritten`
        : undefined;
      if (problem) {
        reported.add(stream);
        fail(problem, stream, Math.min(now?.entries ?? 0, signed.entries) + 1);
      }
    }
    for (const stream of heads.keys()) {
      if (reported.has(stream) || stream in checkpoint.streams) continue;
      reported.add(stream);
      fail(`${stream}: not in the signed ${at}, yet it has entries before its log position ${checkpoint.upToSeq}`, stream, 1);
    }
  };
  const ordered = checked.byPosition;
  for (const entry of entries) {
    while (next < ordered.length && entry.seq > ordered[next]!.upToSeq) compare(ordered[next++]!);
    const head = heads.get(entry.stream) ?? { entries: 0, head: '' };
    heads.set(entry.stream, { entries: head.entries + 1, head: entry.hash });
  }
  while (next < ordered.length) compare(ordered[next++]!);

  const latest = checked.valid.at(-1);
  return {
    breaks,
    report: {
      count: checked.valid.length,
      latest: latest && { number: latest.number, signedAt: latest.signedAt, upToSeq: latest.upToSeq, keyId: latest.keyId },
      uncovered: latest ? entries.filter((e) => e.seq > latest.upToSeq).length : entries.length,
      notes: [...checked.notes],
    },
  };
}
