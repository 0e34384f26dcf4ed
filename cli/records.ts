/** Commands over a run's database: status, holds, resolve, remove, review, record, verify. */
import { timeOfDay, wallNow } from '../drivers/clock.ts';
import { recordRemoval, resolveHold } from '../orchestrator/operator-actions.ts';
import { openHolds, workcellOverview } from '../orchestrator/workcell-overview.ts';
import { durationText } from '../orchestrator/quantity-format.ts';
import { buildRecord, formatRecord, reviewRecord } from '../orchestrator/record.ts';
import { recordHtml } from '../orchestrator/record-html.ts';
import type { HoldAction } from '../orchestrator/entries.ts';
import { readPassword, readSigner, type SignerOptions } from './passwords.ts';
import type { Signature } from '../orchestrator/signatures.ts';
import { withDatabase } from './database.ts';
import { follow } from './integrity.ts';
import { writeOutputFile } from './output-file.ts';
import { printable } from '../config/printable.ts';
import { workcellNow } from '../orchestrator/run-settings.ts';
import { UsageError } from './usage.ts';

type SignedOptions = SignerOptions & { db?: string };

/** "hold time after wash: 1 h 12 min left (until 05:06 UTC)", or how long ago it was exceeded. */
function holdTimeText(holdTime: { after: string; deadline: number }, now: number): string {
  const left = holdTime.deadline - now;
  if (left >= 0) return `hold time after ${holdTime.after}: ${durationText(Math.round(left / 1000))} left (until ${time(holdTime.deadline, now)})`;
  return `hold time after ${holdTime.after} exceeded at ${time(holdTime.deadline, now)}, ${durationText(Math.round(-left / 1000))} ago: a deviation`;
}

/** A time on the workcell clock, dated when it falls on another day than `today`. */
const time = (ms: number | undefined, today: number) => (ms === undefined ? '-' : timeOfDay(ms, today));

/** `workcell status`. */
export async function status(_args: [], options: { db?: string; json?: boolean }): Promise<number> {
  return withDatabase(options.db, { readonly: true }, (log) => {
    const overview = workcellOverview(log);
    if (options.json) {
      process.stdout.write(`${JSON.stringify(overview, null, 2)}\n`);
      return 0;
    }
    const { status: view, holds, awaitingReview: reviews, alarms } = overview;
    const outOfService = new Map(overview.outOfService.map((o) => [o.module, o]));
    const today = workcellNow(log);
    const lines: string[] = [];
    if (overview.statusProblem !== undefined) lines.push(`${overview.statusProblem}: not shown.`);
    else if (!view) lines.push('No orchestrator has written a status to this database yet.');
    else {
      const age = Math.round((wallNow() - overview.updatedAt!) / 1000);
      lines.push(`Status at ${new Date(view.at).toISOString().slice(0, 16).replace('T', ' ')} UTC (workcell clock), written ${age} s ago by process ${view.pid}${view.final ? ' (run ended)' : age > 5 ? ' (the orchestrator may have stopped: workcell resume continues it)' : ''}`);
      lines.push('');
      lines.push('Batches');
      lines.push(`  ${'batch'.padEnd(8)} ${'lane'.padEnd(7)} ${'step'.padEnd(14)} ${'module'.padEnd(8)} ${'state'.padEnd(11)} expected finish`);
      for (const b of view.batches) {
        lines.push(`  ${b.batchId.padEnd(8)} ${b.lane.padEnd(7)} ${b.step.padEnd(14)} ${(b.module ?? '-').padEnd(8)} ${b.phase.padEnd(11)} ${time(b.expectedFinish, today)}`);
        if (b.note && (b.phase === 'waiting' || b.phase === 'intake' || b.phase === 'held')) lines.push(`      ${b.batchId} ${b.note}`);
        if (b.holdTime) lines.push(`      ${b.batchId} ${holdTimeText({ after: b.holdTime.step, deadline: b.holdTime.deadline }, today)}`);
      }
      lines.push('');
      lines.push('Modules');
      for (const m of view.modules) lines.push(`  ${m.id.padEnd(8)} ${m.state.padEnd(11)} ${m.occupant ? `holds ${m.occupant}` : ''}${outOfService.has(m.id) ? ' OUT OF SERVICE' : ''}`);
      if (view.plates.length > 0) {
        lines.push('');
        lines.push('Settle plates');
        for (const p of view.plates) lines.push(`  ${p}`);
      }
    }
    // From the log, not the live view: a module taken out while no orchestrator runs is out all the same.
    if (outOfService.size > 0) {
      lines.push('');
      lines.push('Out of service (npx workcell module MODULE in-service returns one):');
      for (const o of outOfService.values()) lines.push(`  ${o.module.padEnd(8)} since ${time(o.since, today)} (${o.user}: ${o.reason})`);
    }
    lines.push('');
    lines.push(holds.length === 0 ? 'No open holds.' : 'Open holds (answer with npx workcell resolve):');
    for (const h of holds) lines.push(`  ${h.batchId} at ${h.step} (${h.kind}) since ${time(h.since, today)}: ${h.message}${h.holdTime ? `; ${holdTimeText(h.holdTime, today)}` : ''}`);
    if (reviews.length > 0) {
      lines.push('');
      lines.push('Awaiting QA review (workcell review):');
      for (const r of reviews) lines.push(`  ${r.batchId} ${r.status}, ${r.waitingFor.length === 0 ? 'ready for review' : `waiting for ${r.waitingFor.join(' and ')}`}`);
    }
    if (alarms.length > 0) {
      lines.push('');
      lines.push('Recent alarms');
      for (const a of alarms) lines.push(`  ${time(a.at, today)} ${a.batchId} ${a.kind}: ${a.message}`);
    }
    // Device messages, reasons and notes are shown escaped: each line stays the one line it is.
    process.stdout.write(`${lines.map(printable).join('\n')}\n`);
    return 0;
  });
}

/** `workcell holds`. */
export async function holds(_args: [], options: { db?: string; json?: boolean }): Promise<number> {
  return withDatabase(options.db, { readonly: true }, (log) => {
    const holds = openHolds(log);
    if (options.json) process.stdout.write(`${JSON.stringify(holds.map((h) => ({ ...h, since: new Date(h.since).toISOString() })), null, 2)}\n`);
    else if (holds.length === 0) process.stdout.write('No open holds.\n');
    else {
      const today = workcellNow(log);
      for (const h of holds) {
        const lines = [`${h.batchId} at ${h.step} (${h.kind}) since ${time(h.since, today)}`, `  ${h.message}`];
        // A hold does not stop the biology: the hold time keeps running, and the menu says how much is left.
        if (h.holdTime) lines.push(`  ${holdTimeText(h.holdTime, today)}`);
        lines.push(`  actions: ${h.actions.join(' | ')}`);
        for (const o of h.deviceOptions) lines.push(`    continue --option ${o.identifier}: ${o.description} (the device's option)`);
        if (h.skipApproves) lines.push(`  skip approves ${h.skipApproves}`);
        process.stdout.write(`${lines.map(printable).join('\n')}\n`);
      }
      process.stdout.write(`Answer with: npx workcell resolve BATCH --action retry|skip|abort|continue [--option DEVICE_OPTION] --reason TEXT --user NAME --db ${log.file} (signed with your password)\n`);
    }
    return 0;
  });
}

function manifestation(signature: Signature): string {
  return `Signed by ${signature.printedName} (${signature.user}) at ${signature.signedAt}: ${signature.meaning}.`;
}

/** What was recorded and its signature, each line escaped: a reason is the signer's own text. */
function writeRecorded(what: string, signature: Signature): void {
  process.stdout.write(`${printable(what)}\n${printable(manifestation(signature))}\n`);
}

/** `workcell resolve BATCH`. */
export async function answerHold([batchId]: [string], parsed: SignedOptions & { action?: string; option?: string }): Promise<number> {
  const action = parsed.action;
  if (action !== 'retry' && action !== 'skip' && action !== 'abort' && action !== 'continue') throw new UsageError("--action is retry, skip, abort, or continue with one of the device's options (--option)");
  if ((action === 'continue') !== (parsed.option !== undefined)) throw new UsageError("--option names the device's continuation option, with --action continue only");
  const { reason, signer } = await readSigner(parsed, 'answer');
  return withDatabase(parsed.db, { readonly: false }, (log) => {
    const entry = resolveHold(log, batchId, { action: action as HoldAction, reason, option: parsed.option }, signer, workcellNow(log));
    const what = entry.data.option ? `${action} with the device's option ${entry.data.option}` : action;
    writeRecorded(`Recorded: the hold of ${batchId} at ${entry.data.step} answered with ${what} (${reason}).${entry.data.approves ? ` Approved: ${entry.data.approves}.` : ''}`, entry.data.signature);
    return 0;
  });
}

/** `workcell remove BATCH`. */
export async function remove([batchId]: [string], parsed: SignedOptions): Promise<number> {
  const { reason, signer } = await readSigner(parsed, 'removal');
  return withDatabase(parsed.db, { readonly: false }, (log) => {
    const entry = recordRemoval(log, batchId, { reason }, signer, workcellNow(log));
    writeRecorded(`Recorded: ${batchId}'s material (${entry.data.bagId}) removed from ${entry.data.from} by hand (${reason}).`, entry.data.signature);
    return 0;
  });
}

/** `workcell review BATCH`. */
export async function review([batchId]: [string], parsed: SignedOptions & { decision?: string }): Promise<number> {
  const decision = parsed.decision;
  if (decision !== 'approve' && decision !== 'reject') throw new UsageError('--decision is approve or reject');
  const { reason, signer } = await readSigner(parsed, 'review');
  return withDatabase(parsed.db, { readonly: false }, (log) => {
    const entry = reviewRecord(log, batchId, { decision: decision === 'approve' ? 'approved' : 'rejected', reason }, signer, workcellNow(log));
    writeRecorded(`Recorded: the record of ${batchId} ${entry.data.decision} (${reason}), over chain head ${entry.data.reviewedHead.slice(0, 12)}….`, entry.data.signature);
    return 0;
  });
}

/** `workcell record BATCH`. */
export async function showRecord([batchId]: [string], parsed: { db?: string; json?: boolean; html?: boolean; out?: string; force?: boolean }): Promise<number> {
  if (parsed.json && parsed.html) throw new UsageError('give --json or --html, not both');
  return withDatabase(parsed.db, { readonly: true }, (log) => {
    const record = buildRecord(log, batchId);
    const text = parsed.json ? `${JSON.stringify(record, null, 2)}\n` : parsed.html ? recordHtml(record) : formatRecord(record);
    const out = parsed.out;
    if (out) {
      writeOutputFile(out, text, { force: parsed.force === true, database: log.file });
      process.stdout.write(`The record of ${batchId} is in ${out}.\n`);
    } else process.stdout.write(text);
    return 0;
  });
}

/** `workcell publish`. */
export async function publish(_args: [], parsed: SignerOptions & { mqtt?: string; db?: string; prefix?: string; interval?: string; fromStart?: boolean; once?: boolean }): Promise<number> {
  const url = parsed.mqtt;
  if (!url) throw new UsageError('--mqtt URL is required (mqtt://HOST:1883 or mqtts://HOST:8883)');
  const interval = Number(parsed.interval ?? 0.5);
  if (!(interval > 0)) throw new UsageError('--interval takes a positive number of seconds');
  const user = parsed.user;
  const password = user ? await readPassword(parsed, { variable: 'WORKCELL_MQTT_PASSWORD', prompt: `MQTT password of ${user}: ` }) : undefined;
  const { MqttPublisher } = await import('../orchestrator/mqtt-publisher.ts');
  return withDatabase(parsed.db, { readonly: true }, async (log) => {
    const publisher = await MqttPublisher.connect(url, log, { prefix: parsed.prefix, username: user, password, fromStart: parsed.fromStart === true });
    return follow({ once: parsed.once === true, interval, log }, async () => {
      const refused = publisher.statusProblem;
      const published = await publisher.publishNew();
      if (published > 0 || parsed.once) process.stdout.write(`${published} entries published under ${publisher.prefix}/\n`);
      if (publisher.statusProblem !== undefined && publisher.statusProblem !== refused) process.stderr.write(`${printable(publisher.statusProblem)}; not published\n`);
    }, () => publisher.close());
  });
}
