/**
 * Server-sent events for the HMI: a `status` event whenever the log changes, and `entry` events (typed
 * entries, id = log position) after a client's cursor. Other processes' writes (the orchestrator, a
 * `workcell resolve` in a terminal) are seen through the one log watcher (orchestrator/log-watcher.ts);
 * this server's own appends through the log's subscription. Either only marks the log changed: each
 * client is then brought up to date from its cursor, so nothing is sent twice or lost.
 */
import type { ServerResponse } from 'node:http';
import { WALL_CLOCK } from '../../drivers/clock.ts';
import type { EventLog, LogEntry } from '../../orchestrator/event-log.ts';
import { OPERATORS_STREAM } from '../../orchestrator/signatures.ts';

/** The operators stream holds password hashes: its entries are read through /api/audit and /api/operators, redacted. */
export function visibleEntries(entries: readonly LogEntry[]): LogEntry[] {
  return entries.filter((e) => e.stream !== OPERATORS_STREAM);
}

interface Client {
  response: ServerResponse;
  /** Whether the session that opened the stream is still open: a stream ends with its session. */
  open: () => boolean;
  cursor: number;
  busy: boolean;
  again: boolean;
}

/** A write to a client whose connection closed: no failure of the server's, nothing to report. */
class ClientGone extends Error {
  constructor() {
    super('the client went away');
  }
}

const PAGE = 500;
/**
 * The orchestrator rewrites its live view several times a second: clients are brought up to date at
 * most this often (ms), the last change always included, so that an update still comes within a second.
 */
const MIN_GAP_MS = 300;
/** How often streams are checked against their sessions when the log is quiet: an idle session's screen goes dark within this (ms). */
const SESSION_CHECK_MS = 2000;

export class LiveUpdates {
  private readonly clients = new Set<Client>();
  private stopWatching: (() => void) | undefined;
  private unsubscribe: (() => void) | undefined;
  private ownChangePending = false;
  private lastUpdateAt = 0;
  private trailing: NodeJS.Timeout | undefined;
  private sessionCheck: NodeJS.Timeout | undefined;

  constructor(private readonly log: EventLog, private readonly status: () => unknown, private readonly everyMs = 200) {}

  start(): void {
    // Of the entries other processes write, only that they did: each client reads its own page from its
    // cursor. No type is asked for, so that the watcher reads (and checks) no entry it would throw on.
    this.stopWatching = this.log.watchOthers(() => this.changed(), { clock: WALL_CLOCK, everyMs: this.everyMs, types: [] });
    this.unsubscribe = this.log.subscribe(() => {
      // Several appends of one request make one update, after the request's transaction.
      if (this.ownChangePending) return;
      this.ownChangePending = true;
      setImmediate(() => {
        this.ownChangePending = false;
        this.changed();
      });
    });
    this.sessionCheck = setInterval(() => this.endStreamsOfEndedSessions(), SESSION_CHECK_MS);
    this.sessionCheck.unref();
  }

  /** Ends the streams whose session ended while the log was quiet (a change checks them too). */
  private endStreamsOfEndedSessions(): void {
    for (const client of this.clients) {
      if (client.busy) continue;
      try {
        if (client.open()) continue;
        this.end(client);
      } catch (error) {
        this.end(client, error);
      }
    }
  }

  /**
   * Ends a client's stream (its browser sees it end and reconnects, or goes to the login page). `failure`:
   * what made the stream fail (the session check refused an operators entry, sessions.db failed), said in
   * one line on standard error; the server goes on.
   */
  private end(client: Client, failure?: unknown): void {
    this.clients.delete(client);
    client.response.end();
    if (failure !== undefined && !(failure instanceof ClientGone)) process.stderr.write(`workcell serve: a live stream (/api/events) was ended: ${failure instanceof Error ? failure.message : String(failure)}\n`);
  }

  /** Streams to `response` from now on: entries after `cursor` (the log's end when undefined), and status. */
  add(response: ServerResponse, cursor: number | undefined, open: () => boolean): void {
    const client: Client = { response, open, cursor: cursor ?? this.log.lastSeq(), busy: false, again: false };
    this.clients.add(client);
    response.on('close', () => this.clients.delete(client));
    void this.bringUpToDate(client);
  }

  get clientCount(): number {
    return this.clients.size;
  }

  private statusEvent(): string {
    return `event: status\ndata: ${JSON.stringify(this.status())}\n\n`;
  }

  private changed(): void {
    if (this.clients.size === 0) return;
    const wait = this.lastUpdateAt + MIN_GAP_MS - Date.now();
    if (wait > 0) {
      this.trailing ??= setTimeout(() => {
        this.trailing = undefined;
        this.changed();
      }, wait);
      return;
    }
    this.lastUpdateAt = Date.now();
    let status: string;
    try {
      status = this.statusEvent();
    } catch (error) {
      // No client can be told the status (an entry the schema refuses, say): every stream ends, said once.
      const [first, ...others] = this.clients;
      if (first) this.end(first, error);
      for (const client of others) this.end(client);
      return;
    }
    for (const client of this.clients) void this.bringUpToDate(client, status);
  }

  /** Sends a client the entries after its cursor, then `status` (the status now when not given). */
  private async bringUpToDate(client: Client, status?: string): Promise<void> {
    if (client.busy) {
      client.again = true;
      return;
    }
    client.busy = true;
    try {
      if (!client.open()) {
        this.end(client);
        return;
      }
      for (;;) {
        const page = this.log.page(client.cursor, PAGE);
        if (page.length === 0) break;
        const text = visibleEntries(page).map((e) => `id: ${e.seq}\nevent: entry\ndata: ${JSON.stringify(e)}\n\n`).join('');
        client.cursor = page[page.length - 1]!.seq;
        if (text) await this.write(client, text);
        if (page.length < PAGE) break;
      }
      await this.write(client, status ?? this.statusEvent());
    } catch (error) {
      this.end(client, error);
    } finally {
      client.busy = false;
    }
    if (client.again && this.clients.has(client)) {
      client.again = false;
      void this.bringUpToDate(client);
    }
  }

  /** Writes, waiting for the client to take what it was sent when its buffer is full. */
  private write(client: Client, text: string): Promise<void> {
    if (client.response.destroyed) return Promise.reject(new ClientGone());
    if (client.response.write(text)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      client.response.once('drain', resolve);
      client.response.once('close', () => reject(new ClientGone()));
    });
  }

  close(): void {
    clearTimeout(this.trailing);
    clearInterval(this.sessionCheck);
    this.stopWatching?.();
    this.unsubscribe?.();
    for (const client of this.clients) client.response.end();
    this.clients.clear();
  }
}
