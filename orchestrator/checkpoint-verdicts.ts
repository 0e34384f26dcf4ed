/**
 * The check of a log's checkpoints by themselves (checkCheckpointSequence: every signature, numbering and
 * link), kept between verifications while nothing it depends on changed. A server's record view asks for
 * it about once a second per open screen, and the check costs in checkpoints × streams (one checkpoint a
 * minute while anything is appended, each listing every stream's head): a day's took a third of a second.
 *
 * What the check depends on: the checkpoints, the keys, the log's id and the key file beside it. The key
 * it is kept under changes with each of them, cheaply:
 * - an appended checkpoint changes their count and the latest number; a removed one the count (and the
 *   latest number, or the latest row, when it was the latest);
 * - an altered or removed checkpoint or key needs the append-only triggers out of the way first, and
 *   dropping a trigger changes the database's schema_version; the latest row is compared whole, too;
 * - keys: their count and latest rowid; the log's id; the key file's key id (read each time).
 * What that key cannot see: a row replaced by INSERT OR REPLACE (SQLite fires no delete trigger for it,
 * and the number stays) or bytes edited in the file outside SQLite. So a kept check is used for at most
 * REVERIFY_MS: then the checkpoints are checked whole again, whatever the key says.
 */
import type Database from 'better-sqlite3';
import { wallNow } from '../drivers/clock.ts';
import { checkCheckpointSequence, keyIdOfFile, readCheckpoints, type CheckedCheckpoints } from './checkpoints.ts';

/** At most this long (wall clock) a kept check of the checkpoints is used without checking them whole again. */
export const REVERIFY_MS = 60_000;

export class CheckpointVerdicts {
  private kept: { key: string; at: number; checked: CheckedCheckpoints } | undefined;
  private checks = 0;

  constructor(private readonly db: Database.Database, private readonly keyFile: string, private readonly logId: () => string) {}

  /** How many times the checkpoints were checked whole through this (each signature verified). */
  get fullChecks(): number {
    return this.checks;
  }

  /** The checkpoints checked: kept from the last time while its key is unchanged and it is recent, else checked again. */
  current(): CheckedCheckpoints {
    const keyFileKeyId = keyIdOfFile(this.keyFile);
    const key = this.keyNow(keyFileKeyId);
    const now = wallNow();
    if (this.kept && this.kept.key === key && now - this.kept.at < REVERIFY_MS) return this.kept.checked;
    const checked = checkCheckpointSequence(this.logId(), readCheckpoints(this.db), keyFileKeyId);
    this.checks += 1;
    this.kept = { key, at: now, checked };
    return checked;
  }

  private keyNow(keyFileKeyId: string | undefined): string {
    const schemaVersion = this.db.pragma('schema_version', { simple: true }) as number;
    const exists = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkpoints'").get() !== undefined;
    if (!exists) return `${schemaVersion}:none:${this.logId()}:${keyFileKeyId ?? ''}`;
    const counts = this.db.prepare('SELECT (SELECT count(*) FROM checkpoints) AS checkpoints, (SELECT max(number) FROM checkpoints) AS latest, (SELECT count(*) FROM checkpoint_keys) AS keys, (SELECT max(rowid) FROM checkpoint_keys) AS latestKey').get() as Record<string, number | null>;
    const latestRow = (this.db.prepare('SELECT data FROM checkpoints ORDER BY number DESC LIMIT 1').get() as { data: string } | undefined)?.data ?? '';
    return JSON.stringify([schemaVersion, counts.checkpoints, counts.latest, counts.keys, counts.latestKey, this.logId(), keyFileKeyId ?? '', latestRow]);
  }
}
