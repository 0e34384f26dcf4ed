/**
 * How entries other processes write reach this one. An operator's `workcell resolve`, `hold`, `remove`
 * and `module ...` append to the same SQLite file as the running orchestrator; the MQTT publisher and
 * the PostgreSQL mirror read what the orchestrator appends. Each watches the file the same way: SQLite's
 * `PRAGMA data_version` changes when another connection commits, costs no read of the log, and is
 * checked on the clock's poll; only when it changed are the new entries read. Entries this connection
 * appended itself reach it through EventLog.subscribe at once and are not delivered again.
 */
import type { Clock, Timer } from '../drivers/clock.ts';
import type { LogEntry } from './log-entry.ts';

/** What the watcher needs of a log: one connection's view of the file. */
export interface WatchedLog {
  /** SQLite's data_version of this connection: changes when another connection commits. */
  dataVersion(): number;
  lastSeq(): number;
  /** Entries with after < seq <= upTo, of the given types (all when undefined), in log order. */
  between(after: number, upTo: number, types?: readonly string[]): LogEntry[];
  /** Entries this connection appends, as they are committed. */
  subscribe(listener: (entry: LogEntry) => void): () => void;
}

export interface WatchOptions {
  /** The clock whose poll checks the file. */
  clock: Clock;
  /** How often to look, in real ms; 100 by default. */
  everyMs?: number;
  /** Deliver entries after this log position too (0: every entry of the log) at the first look; by default only new ones. */
  from?: number;
  /** Only entries of these types. */
  types?: readonly string[];
}

/**
 * Calls `listener` whenever another connection committed to the log, with the entries it appended
 * since the last call (each once, in log order; none when it wrote only a status view or a lease
 * heartbeat). Returns a function that stops watching.
 */
export function watchOtherConnections(log: WatchedLog, listener: (entries: LogEntry[]) => void, options: WatchOptions): () => void {
  const types = options.types && new Set(options.types);
  // data_version first, the position after: a commit in between is seen as a change, never lost.
  let seenVersion = log.dataVersion();
  let cursor = options.from ?? log.lastSeq();
  let firstLook = options.from !== undefined;
  /** This connection's own entries after the cursor, not to be delivered as another's. */
  const own = new Set<number>();
  const unsubscribe = log.subscribe((entry) => {
    if (!types || types.has(entry.type)) own.add(entry.seq);
  });
  const look = () => {
    const version = log.dataVersion();
    if (version === seenVersion && !firstLook) {
      // Nobody else committed since the last look: what came after the cursor is this connection's own.
      if (own.size > 0) cursor = Math.max(cursor, ...own);
      own.clear();
      return;
    }
    seenVersion = version;
    firstLook = false;
    const upTo = log.lastSeq();
    const entries = log.between(cursor, upTo, options.types).filter((entry) => !own.has(entry.seq));
    cursor = upTo;
    for (const seq of own) if (seq <= upTo) own.delete(seq);
    listener(entries);
  };
  const timer: Timer = options.clock.poll(look, options.everyMs ?? 100);
  return () => {
    options.clock.clearTimeout(timer);
    unsubscribe();
  };
}
