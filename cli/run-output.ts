/**
 * What `workcell run`, `resume` and `demo` print while batches run: a line per change of a batch, a
 * notice whenever the run has been quiet for a while saying what it waits for and until when, and the
 * closing lines with the deviations found and the commands to read the records.
 */
import type { LayoutModel } from '../config/layout.ts';
import { estimateDuration } from '../config/catalogue.ts';
import { timeOfDay, wallNow } from '../drivers/clock.ts';
import { WORKCELL_STREAM, type EventLog } from '../orchestrator/event-log.ts';
import { isEntry } from '../orchestrator/entries.ts';
import type { BatchStatus, Orchestrator } from '../orchestrator/orchestrator.ts';
import { printable } from '../config/printable.ts';

/** How the CLI is named in the commands it suggests: a project's bin is found by npx, rarely on PATH. */
export const CLI = 'npx workcell';

/** A run that printed nothing for this long (wall time) says what it waits for. */
export const QUIET_NOTICE_MS = 60_000;

export function quietNoticeInterval(environment: NodeJS.ProcessEnv = process.env): number {
  const configured = Number(environment.WORKCELL_QUIET_NOTICE_MS);
  return Number.isFinite(configured) && configured > 0 ? configured : QUIET_NOTICE_MS;
}

/** Everything the run prints goes through here, so that quiet spells can be told apart from progress. */
export class RunDisplay {
  private readonly last = new Map<string, string>();
  // Quiet spells are wall time: how long a person watching saw nothing.
  private lastWritten = wallNow();

  constructor(private readonly quietMs: number, private readonly out: (text: string) => void = (text) => process.stdout.write(text)) {}

  write(text: string): void {
    this.out(text);
    this.lastWritten = wallNow();
  }

  /** One line per batch whenever its step, module or phase changes: readable live and in CI logs. */
  progress(batches: readonly BatchStatus[], now: number): void {
    for (const b of batches) {
      const what = `${b.step} ${b.module ?? ''} ${b.phase} ${b.phase === 'held' ? b.note ?? '' : ''}`;
      if (this.last.get(b.batchId) === what) continue;
      this.last.set(b.batchId, what);
      const eta = b.expectedFinish !== undefined ? `  ETA ${timeOfDay(b.expectedFinish, now)}` : '';
      const where = b.module ? ` on ${b.module}` : '';
      const note = b.phase === 'held' || (b.phase === 'waiting' && b.note) ? `  (${printable(b.note ?? '')})` : '';
      this.write(`${b.patient.padEnd(7)} ${b.lane.padEnd(7)} ${b.step.padEnd(14)}${where.padEnd(12)} ${b.phase}${eta}${note}\n`);
    }
  }

  /** After a quiet spell, what the run waits for; nothing when something was printed meanwhile. */
  noticeIfQuiet(waits: () => string[]): void {
    if (wallNow() - this.lastWritten < this.quietMs) return;
    const lines = waits();
    const stamp = new Date(wallNow()).toISOString().slice(11, 19);
    this.write(lines.length > 0 ? lines.map((line) => `[${stamp}] still waiting: ${line}\n`).join('') : `[${stamp}] still working: nothing to wait for, finishing\n`);
  }
}

/** What the run waits for right now, each with until when, in the workcell's time. */
export function currentWaits(orchestrator: Orchestrator, log: EventLog, layout: LayoutModel): string[] {
  const status = orchestrator.status();
  const now = status.at;
  const when = (ms: number) => timeOfDay(ms, now);
  const lines: string[] = [];
  for (const b of status.batches) {
    const note = b.note ? `: ${printable(b.note)}` : '';
    const finish = b.expectedFinish !== undefined ? `; batch expected to finish ${when(b.expectedFinish)}` : '';
    switch (b.phase) {
      case 'held':
        lines.push(`${b.batchId} is held at ${b.step}${note}; it waits for an operator's answer (${CLI} holds --db ${log.file})`);
        break;
      case 'waiting':
        lines.push(`${b.batchId} waits to start ${b.step}${note || ' for a module'}`);
        break;
      case 'intake':
        lines.push(`${b.batchId} waits for its starting material at the intake${note}`);
        break;
      case 'clearance':
        lines.push(`${b.batchId} waits for the line clearance of ${b.module ?? 'its module'} before ${b.step}${finish}`);
        break;
      case 'transfer':
        lines.push(`${b.batchId} is being moved for ${b.step}${b.module ? ` (${b.module})` : ''}${finish}`);
        break;
      case 'running': {
        const done = b.progress !== undefined ? ` (${Math.round(b.progress * 100)} %)` : '';
        lines.push(`${b.batchId} runs ${b.step}${b.module ? ` on ${b.module}` : ''}${done}${finish}`);
        break;
      }
      default:
        break;
    }
  }
  for (const plate of status.plates) lines.push(`settle plate ${printable(plate)}`);
  for (const plate of incubatingPlates(log, layout)) lines.push(`settle plate ${plate.plateId} incubates on ${plate.module} until ${when(plate.until)}, then its colonies are read`);
  return lines;
}

/** Settle plates whose incubation started and has not finished, from the workcell stream of the log. */
function incubatingPlates(log: EventLog, layout: LayoutModel): Array<{ plateId: string; module: string; until: number }> {
  const entries = log.stream(WORKCELL_STREAM, { withoutTelemetry: true });
  const finished = new Set(entries.flatMap((e) => (e.type === 'command.completed' || e.type === 'command.failed' ? [e.data.key] : [])));
  return entries
    .filter(isEntry('command.issued', (e) => e.data.capability === 'incubate' && !finished.has(e.data.key)))
    .map((e) => {
      const { module, parameters } = e.data;
      const spec = layout.catalogue.kind(layout.modules.get(module)?.kind ?? '')?.capabilities.incubate;
      return { plateId: String(parameters.plateId ?? e.data.key), module, until: e.at + (spec ? estimateDuration(spec, parameters) * 1000 : 0) };
    });
}

/** The run's closing lines: outcome, the deviations of each batch, and how to read, verify and review the records. */
export function closingLines(batches: readonly BatchStatus[], log: EventLog): string {
  const lines = ['', `${batches.filter((b) => b.phase === 'completed').length} batch(es) completed, ${batches.filter((b) => b.phase === 'quarantined').length} quarantined.`];
  const deviations = batches.map((b) => ({ batchId: b.batchId, found: log.stream(b.batchId, { withoutTelemetry: true }).filter(isEntry('deviation')) })).filter((d) => d.found.length > 0);
  if (deviations.length === 0) lines.push('No deviations.');
  else lines.push('Deviations (each is in its batch record):');
  for (const { batchId, found } of deviations) {
    const byKind = new Map<string, string[]>();
    for (const entry of found) {
      const { kind, message } = entry.data;
      byKind.set(kind, [...(byKind.get(kind) ?? []), printable(message)]);
    }
    for (const [kind, messages] of byKind) lines.push(`  ${batchId}: ${messages.length} ${kind} deviation${messages.length === 1 ? '' : 's'}: ${messages.join('; ')}`);
  }
  lines.push(`Records are in ${log.file}:`);
  for (const b of batches) lines.push(`  ${CLI} record ${b.batchId} --db ${log.file}`);
  lines.push(`Check every hash chain with: ${CLI} verify ${log.file}`);
  lines.push(`QA reviews each record, signed (enrol first with ${CLI} operators add): ${CLI} review BATCH --decision approve|reject --reason TEXT --user NAME --db ${log.file}`);
  return `${lines.join('\n')}\n`;
}
