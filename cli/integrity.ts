/** `workcell verify` and `workcell mirror`: is a log intact, and its copy in PostgreSQL with it. */
import { WALL_CLOCK, wallNow } from '../drivers/clock.ts';
import { checkpointSummary } from '../orchestrator/checkpoints.ts';
import type { EventLog, LogVerification } from '../orchestrator/event-log.ts';
import type { PostgresMirror } from '../orchestrator/postgres-mirror.ts';
import { printable } from '../config/printable.ts';
import { withDatabase } from './database.ts';
import { UsageError } from './usage.ts';

interface PostgresOptions {
  postgres?: string;
  schema?: string;
}

/** `workcell verify [FILE]`. */
export async function verify([file]: [string | undefined], parsed: PostgresOptions): Promise<number> {
  const url = parsed.postgres;
  if (parsed.schema !== undefined && !url) throw new UsageError('--schema goes with --postgres URL');
  if (!file && !url) throw new UsageError('name one database file, or give --postgres URL');
  if (!file) return withMirror(parsed, url!, verifyMirrored);
  return withDatabase(file, { readonly: true }, async (log) => {
    const local = report(log.file, log.verify());
    if (!url) return local;
    const againstCopy = await withMirror(parsed, url, async (mirror) => {
      const breaks = await mirror.compare(log);
      for (const b of breaks) writeLine(`${log.file}: ${b.problem}: ${b.message}`);
      if (breaks.length === 0) writeLine(`${log.file}: its copy in PostgreSQL (${log.id}) holds nothing the local log lacks or has otherwise`);
      return breaks.length > 0 ? 1 : 0;
    });
    return Math.max(local, againstCopy);
  });
}

function writeLine(text: string): void {
  process.stdout.write(`${printable(text)}\n`);
}

/** Prints what verification found; returns the exit status (1 for any break, or no checkpoint at all). */
function report(name: string, result: LogVerification): number {
  for (const note of result.checkpoints.notes) writeLine(`${name}: note: ${note}`);
  if (result.breaks.length > 0) {
    for (const b of result.breaks) writeLine(`${name}: ${b.problem}: ${b.message}`);
    return 1;
  }
  const latest = result.checkpoints.latest;
  if (!latest) {
    if (result.entries === 0) {
      writeLine(`${name}: empty, nothing to verify`);
      return 0;
    }
    writeLine(`${name}: ${result.entries} entries in ${result.streams} chains intact, but ${checkpointSummary(result.checkpoints)}`);
    return 1;
  }
  writeLine(`${name}: ${result.entries} entries in ${result.streams} chains, all intact; ${checkpointSummary(result.checkpoints)}.`);
  return 0;
}

async function verifyMirrored(mirror: PostgresMirror): Promise<number> {
  const logs = await mirror.logs();
  if (logs.length === 0) {
    writeLine(`No log is mirrored to that database${mirror.schema ? ` (schema ${mirror.schema})` : ''}.`);
    return 0;
  }
  let status = 0;
  for (const l of logs) status = Math.max(status, report(`${l.source} (from ${l.file})`, await mirror.verify(l.source)));
  return status;
}

async function withMirror<T>(parsed: PostgresOptions, url: string, use: (mirror: PostgresMirror) => Promise<T>): Promise<T> {
  const { PostgresMirror } = await import('../orchestrator/postgres-mirror.ts');
  const mirror = new PostgresMirror(url, undefined, { schema: parsed.schema });
  try {
    return await use(mirror);
  } finally {
    await mirror.close();
  }
}

/**
 * Runs `step` once; or again whenever another process commits to the log (its watcher looks every
 * `interval` seconds), and after `idleMs` without a commit if given, until SIGINT or SIGTERM; then `finish`.
 */
export async function follow(options: { once: boolean; interval: number; log: EventLog; idleMs?: number }, step: () => Promise<void>, finish: () => Promise<void>): Promise<number> {
  let stopping = false;
  let changed = false;
  let wake = () => {};
  const stop = () => {
    stopping = true;
    wake();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const stopWatching = options.once
    ? undefined
    : options.log.watchOthers(() => {
        changed = true;
        wake();
      }, { clock: WALL_CLOCK, everyMs: options.interval * 1000 });
  try {
    await step();
    while (!options.once && !stopping) {
      if (!changed) {
        await new Promise<void>((resolve) => {
          const idle = options.idleMs === undefined ? undefined : WALL_CLOCK.setTimeout(resolve, options.idleMs);
          wake = () => {
            WALL_CLOCK.clearTimeout(idle);
            resolve();
          };
        });
      }
      if (stopping) break;
      changed = false;
      await step();
    }
    return 0;
  } finally {
    stopWatching?.();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await finish();
  }
}

/** While following, a line at least this often even when nothing was new. */
const IDLE_REPORT_MS = 60_000;

/** `workcell mirror`. */
export async function mirror(_args: [], parsed: PostgresOptions & { db?: string; follow?: boolean; interval?: string }): Promise<number> {
  const url = parsed.postgres;
  if (!url) throw new UsageError('--postgres URL is required (e.g. postgres://workcell@db.site/records; the user defaults to PGUSER, else yours)');
  const interval = Number(parsed.interval ?? 2);
  if (!(interval > 0)) throw new UsageError('--interval takes a positive number of seconds');
  const following = parsed.follow === true;
  return withDatabase(parsed.db, { readonly: false }, (log) =>
    withMirror(parsed, url, async (mirror) => {
      let reportedAt = 0;
      return follow({ once: !following, interval, log, idleMs: IDLE_REPORT_MS }, async () => {
        const pages = (progress: { source: string; copied: number; mirroredSeq: number }) => {
          writeLine(`${log.file} (${progress.source}): ${progress.copied} entries copied, mirrored up to log position ${progress.mirroredSeq}.`);
          reportedAt = wallNow();
        };
        const progress = await mirror.ship(log, { onPage: pages });
        if (progress.checkpoints > 0) writeLine(`${log.file} (${progress.source}): ${progress.checkpoints} signed checkpoint(s) copied.`);
        if (progress.copied > 0) return;
        if (!following) pages(progress);
        else if (wallNow() - reportedAt >= IDLE_REPORT_MS) {
          writeLine(`${log.file} (${progress.source}): nothing new to copy; mirrored up to log position ${progress.mirroredSeq} (looking every ${interval} s).`);
          reportedAt = wallNow();
        }
      }, async () => undefined);
    }),
  );
}
