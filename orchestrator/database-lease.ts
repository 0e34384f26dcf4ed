/**
 * One orchestrator per database. Two processes driving one log would both reserve modules, both issue
 * idempotency keys and both send device commands: a second batch into a bioreactor with a bag inside,
 * an OPC UA program started twice. So whatever sends device commands for a database first takes its
 * lease: one row in the database itself, taken in a write transaction, renewed by a heartbeat, given
 * back on exit. It is taken over only when its holder is provably gone: on this machine and since its
 * last boot, a process that no longer exists (or whose PID another process now has); a machine booted
 * since; or a heartbeat older than a generous timeout. A refusal names the holder and what to do.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import Database from 'better-sqlite3';
import { WALL_CLOCK, type Timer } from '../drivers/clock.ts';

/** How often a holder renews its lease. */
export const HEARTBEAT_MS = 5_000;
/** A lease whose heartbeat is older than this is free, whoever held it (a machine unreachable, a process frozen). */
export const STALE_AFTER_MS = 10 * 60_000;

export interface LeaseHolder {
  pid: number;
  host: string;
  /** Linux's boot id of the holder's machine (changes at every boot); null elsewhere. */
  bootId: string | null;
  /** When the holder's process started, in clock ticks since boot (Linux): tells a reused PID apart. */
  processStart: string | null;
  /** The command line that holds it. */
  command: string;
  since: string;
  heartbeat: number;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS lease (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  token TEXT NOT NULL,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  boot_id TEXT,
  process_start TEXT,
  command TEXT NOT NULL,
  since TEXT NOT NULL,
  heartbeat INTEGER NOT NULL
)`;

/** Another process holds the lease. */
export class LeaseRefused extends Error {
  constructor(readonly holder: LeaseHolder, message: string) {
    super(message);
  }
}

function readOr(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

const bootId = (): string | null => readOr('/proc/sys/kernel/random/boot_id');

/** Field 22 of /proc/PID/stat: the process's start time since boot (the name before it may hold spaces). */
function processStart(pid: number): string | null {
  const stat = readOr(`/proc/${pid}/stat`);
  return stat === null ? null : (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null);
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why the holder is provably gone, or undefined while it may still drive the database. */
export function holderGone(holder: LeaseHolder, now = WALL_CLOCK.now()): string | undefined {
  const ownBoot = bootId();
  if (holder.host === hostname()) {
    if (holder.bootId && ownBoot && holder.bootId !== ownBoot) return 'its machine has restarted since';
    if (holder.bootId === ownBoot) {
      if (!processExists(holder.pid)) return `process ${holder.pid} no longer exists`;
      const started = processStart(holder.pid);
      if (holder.processStart && started && started !== holder.processStart) return `process ${holder.pid} is another process now`;
    }
  }
  if (now - holder.heartbeat > STALE_AFTER_MS) return `its last heartbeat was ${Math.round((now - holder.heartbeat) / 60_000)} min ago`;
  return undefined;
}

function fromRow(row: Record<string, unknown>): LeaseHolder {
  return { pid: Number(row.pid), host: String(row.host), bootId: (row.boot_id as string | null) ?? null, processStart: (row.process_start as string | null) ?? null, command: String(row.command), since: String(row.since), heartbeat: Number(row.heartbeat) };
}

function describe(holder: LeaseHolder, now = WALL_CLOCK.now()): string {
  return `process ${holder.pid} on ${holder.host} (${holder.command}), since ${holder.since}, last heartbeat ${Math.max(0, Math.round((now - holder.heartbeat) / 1000))} s ago`;
}

/** The command line as a person would recognise it: `workcell run layouts/two-lane.yaml ...`. */
function commandLine(): string {
  const args = process.argv.slice(2).join(' ');
  return `workcell ${args}`.slice(0, 200);
}

export class DatabaseLease {
  private readonly db: Database.Database;
  private readonly timer: Timer;
  private released = false;
  private readonly lostListeners = new Set<(by: LeaseHolder | undefined) => void>();
  private readonly releaseAtExit = () => this.release();

  private constructor(readonly file: string, db: Database.Database, private readonly token: string, readonly tookOverFrom: { holder: LeaseHolder; why: string } | undefined) {
    this.db = db;
    // Heartbeats are read by other processes against their own wall clocks: wall time, whatever the workcell's clock.
    this.timer = WALL_CLOCK.poll(() => this.renew(), HEARTBEAT_MS, { background: true });
    // Also when the process ends through an uncaught error: the next orchestrator need not wait.
    process.once('exit', this.releaseAtExit);
  }

  /** Who holds the lease of `file`, if anyone (read-only; for status and messages). */
  static holder(file: string): LeaseHolder | undefined {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'lease'").get() !== undefined;
      const row = exists ? (db.prepare('SELECT * FROM lease WHERE id = 1').get() as Record<string, unknown> | undefined) : undefined;
      return row && fromRow(row);
    } finally {
      db.close();
    }
  }

  /**
   * Takes the lease of the database `file` for this process, or throws LeaseRefused naming the holder.
   * `what` says in the refusal what was refused ("start a run").
   */
  static acquire(file: string, options: { command?: string; what?: string } = {}): DatabaseLease {
    const db = new Database(file, { fileMustExist: true });
    db.pragma('busy_timeout = 10000');
    const token = randomBytes(16).toString('hex');
    try {
      const tookOver = db.transaction(() => {
        db.exec(SCHEMA);
        const row = db.prepare('SELECT * FROM lease WHERE id = 1').get() as Record<string, unknown> | undefined;
        const holder = row && fromRow(row);
        const gone = holder && holderGone(holder);
        if (holder && !gone) {
          throw new LeaseRefused(
            holder,
            `${file} is being driven by another orchestrator: ${describe(holder)}. One process at a time sends device commands for a database, so this one did not ${options.what ?? 'start'}. ` +
              `Let it finish, or stop it (Ctrl-C in its terminal, or kill ${holder.pid}${holder.host === hostname() ? '' : ` on ${holder.host}`}); workcell status --db ${file} shows what it does.`,
          );
        }
        const now = WALL_CLOCK.now();
        db.prepare('INSERT INTO lease (id, token, pid, host, boot_id, process_start, command, since, heartbeat) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET token = excluded.token, pid = excluded.pid, host = excluded.host, boot_id = excluded.boot_id, process_start = excluded.process_start, command = excluded.command, since = excluded.since, heartbeat = excluded.heartbeat')
          .run(token, process.pid, hostname(), bootId(), processStart(process.pid), options.command ?? commandLine(), new Date(now).toISOString(), now);
        return holder && gone ? { holder, why: gone } : undefined;
      }).immediate();
      return new DatabaseLease(file, db, token, tookOver);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Whether this process still holds the lease of `file` (as the database says, not as it remembers). */
  isHeldOn(file: string): boolean {
    if (this.released || file !== this.file) return false;
    const row = this.db.prepare('SELECT token FROM lease WHERE id = 1').get() as { token: string } | undefined;
    return row?.token === this.token;
  }

  /** Called once if the lease is found taken over (this process was frozen past the timeout, say). */
  onLost(listener: (by: LeaseHolder | undefined) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  private renew(): void {
    if (this.released) return;
    let kept = false;
    try {
      kept = this.db.prepare('UPDATE lease SET heartbeat = ? WHERE id = 1 AND token = ?').run(WALL_CLOCK.now(), this.token).changes === 1;
    } catch {
      return; // busy for longer than the timeout: the next beat tries again, long before the lease goes stale
    }
    if (kept) return;
    const row = this.db.prepare('SELECT * FROM lease WHERE id = 1').get() as Record<string, unknown> | undefined;
    const listeners = [...this.lostListeners];
    this.lostListeners.clear();
    WALL_CLOCK.clearTimeout(this.timer);
    for (const listener of listeners) listener(row && fromRow(row));
  }

  /** Gives the lease back (only if still ours) and closes its connection; safe to call twice. */
  release(): void {
    if (this.released) return;
    this.released = true;
    WALL_CLOCK.clearTimeout(this.timer);
    process.off('exit', this.releaseAtExit);
    try {
      this.db.prepare('DELETE FROM lease WHERE id = 1 AND token = ?').run(this.token);
    } finally {
      this.db.close();
    }
  }
}
