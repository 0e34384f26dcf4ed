/**
 * Login sessions of the web HMI, kept on the server in a SQLite file of their own beside the database
 * (not in the log: a session is no part of any record, and the log is append-only). The browser holds
 * only a random token; the table holds its SHA-256, so that a copy of the file opens no session. Each
 * session has its CSRF token, ends after an idle time and at the latest after a fixed lifetime.
 */
import { createHash, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { wallNow } from '../../drivers/clock.ts';
import { createPrivately } from '../../orchestrator/event-log.ts';

export interface Session {
  user: string;
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
}

export interface SessionLimits {
  /** A session nobody used for this long ends (ms). */
  idleMs: number;
  /** A session ends this long after login whatever its use (ms). */
  lifetimeMs: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = { idleMs: 15 * 60_000, lifetimeMs: 12 * 3_600_000 };

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

export class SessionStore {
  private readonly db: Database.Database;

  constructor(file: string, readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS) {
    createPrivately(file);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS sessions (
      token_hash TEXT PRIMARY KEY,
      user TEXT NOT NULL,
      csrf_token TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      last_seen_at INTEGER NOT NULL
    )`);
  }

  /** A new session for `user`: the token for the cookie, and the session. */
  open(user: string): { token: string; session: Session } {
    this.sweep();
    const token = randomBytes(32).toString('base64url');
    const now = wallNow();
    const session = { user, csrfToken: randomBytes(32).toString('base64url'), createdAt: now, lastSeenAt: now };
    this.db.prepare('INSERT INTO sessions (token_hash, user, csrf_token, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)').run(hashOf(token), user, session.csrfToken, now, now);
    return { token, session };
  }

  /** The live session of a token, its idle time restarted; undefined (and forgotten) when it ended. */
  use(token: string): Session | undefined {
    const hash = hashOf(token);
    const row = this.db.prepare('SELECT user, csrf_token AS csrfToken, created_at AS createdAt, last_seen_at AS lastSeenAt FROM sessions WHERE token_hash = ?').get(hash) as Session | undefined;
    if (!row) return undefined;
    const now = wallNow();
    if (now - row.lastSeenAt > this.limits.idleMs || now - row.createdAt > this.limits.lifetimeMs) {
      this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(hash);
      return undefined;
    }
    this.db.prepare('UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?').run(now, hash);
    return { ...row, lastSeenAt: now };
  }

  /** Whether a token's session is still open, without counting this as its use (a stream it opened asks). */
  isOpen(token: string): boolean {
    const row = this.db.prepare('SELECT created_at AS createdAt, last_seen_at AS lastSeenAt FROM sessions WHERE token_hash = ?').get(hashOf(token)) as Pick<Session, 'createdAt' | 'lastSeenAt'> | undefined;
    const now = wallNow();
    return row !== undefined && now - row.lastSeenAt <= this.limits.idleMs && now - row.createdAt <= this.limits.lifetimeMs;
  }

  close(token: string): void {
    this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(hashOf(token));
  }

  /** Ends every session of a user (disabled, or a password changed), but `keep`. */
  closeAllOf(user: string, keep?: string): void {
    this.db.prepare('DELETE FROM sessions WHERE user = ? AND token_hash IS NOT ?').run(user, keep === undefined ? null : hashOf(keep));
  }

  /** Forgets sessions that ended, so that the file does not grow. */
  sweep(): void {
    const now = wallNow();
    this.db.prepare('DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?').run(now - this.limits.idleMs, now - this.limits.lifetimeMs);
  }

  shutdown(): void {
    this.db.close();
  }
}
