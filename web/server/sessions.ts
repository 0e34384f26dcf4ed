/**
 * Login sessions of the web HMI, kept on the server in a SQLite file of their own beside the database
 * (not in the log: a session is no part of any record, and the log is append-only). The browser holds
 * only a random token; the table holds its SHA-256, so that a copy of the file opens no session. Each
 * session has its CSRF token, ends after an idle time and at the latest after a fixed lifetime. Only a
 * person's use restarts the idle time: what the app fetches on its own (a refetch on a live event) is
 * checked without counting as use, or an unattended screen would never time out.
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
  /**
   * The log's position when the session was opened: a password change or disablement of its user after
   * it (by whichever process) ends the session.
   */
  logPosition: number;
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
      last_seen_at INTEGER NOT NULL,
      log_position INTEGER NOT NULL DEFAULT 0
    )`);
    // A file from before sessions knew their log position: its sessions end at any password change ever made.
    const columns = this.db.prepare('PRAGMA table_info(sessions)').all() as Array<{ name: string }>;
    if (!columns.some((c) => c.name === 'log_position')) this.db.exec('ALTER TABLE sessions ADD COLUMN log_position INTEGER NOT NULL DEFAULT 0');
  }

  /**
   * A new session for `user`: the token for the cookie, and the session. `logPosition` is the log's last
   * position read before the password was checked, so that a change racing the login ends the session.
   */
  open(user: string, logPosition: number): { token: string; session: Session } {
    this.sweep();
    const token = randomBytes(32).toString('base64url');
    const now = wallNow();
    const session = { user, csrfToken: randomBytes(32).toString('base64url'), createdAt: now, lastSeenAt: now, logPosition };
    this.db.prepare('INSERT INTO sessions (token_hash, user, csrf_token, created_at, last_seen_at, log_position) VALUES (?, ?, ?, ?, ?, ?)').run(hashOf(token), user, session.csrfToken, now, now, logPosition);
    return { token, session };
  }

  /** The live session of a token, used by a person: its idle time restarts. Undefined (and forgotten) when it ended. */
  use(token: string): Session | undefined {
    const session = this.check(token);
    if (!session) return undefined;
    const now = wallNow();
    this.db.prepare('UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?').run(now, hashOf(token));
    return { ...session, lastSeenAt: now };
  }

  /**
   * The live session of a token without counting this as its use: for what the app asks on its own (a
   * stream, a refetch on a live event). Undefined (and forgotten) when it ended.
   */
  check(token: string): Session | undefined {
    const hash = hashOf(token);
    const row = this.db.prepare('SELECT user, csrf_token AS csrfToken, created_at AS createdAt, last_seen_at AS lastSeenAt, log_position AS logPosition FROM sessions WHERE token_hash = ?').get(hash) as Session | undefined;
    if (!row) return undefined;
    const now = wallNow();
    if (now - row.lastSeenAt > this.limits.idleMs || now - row.createdAt > this.limits.lifetimeMs) {
      this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(hash);
      return undefined;
    }
    return row;
  }

  /** The session outlives a change of its user's credentials up to `logPosition`: the one that made it (its own password change). */
  keepPast(token: string, logPosition: number): void {
    this.db.prepare('UPDATE sessions SET log_position = MAX(log_position, ?) WHERE token_hash = ?').run(logPosition, hashOf(token));
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
