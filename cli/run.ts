/** `workcell run` and `workcell resume`: start batches, or continue the unfinished ones of a database. */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import type { InspectionEvent } from 'xstate';
import { loadWorkcell } from '../config/validate.ts';
import { timeOfDay } from '../modules/clock.ts';
import { readFaultsFile } from '../modules/simulators/faults.ts';
import { EventLog } from '../orchestrator/event-log.ts';
import { Orchestrator, type BatchSpec, type BatchStatus } from '../orchestrator/orchestrator.ts';
import { openWorkcell, type WorkcellSession } from '../orchestrator/session.ts';
import { checkLayoutForResume, lastRunSettings, recordRunSettings, workcellNow, type RunSettings } from '../orchestrator/run-settings.ts';
import { parseArgs, option, readSigner, type ParsedArgs } from './args.ts';
import { DEFAULT_DATABASE } from './database.ts';
import { UsageError, type Command } from './main.ts';

export const runCommand: Command = {
  name: 'run',
  summary: 'Run patient batches through a workcell (simulated in-process with --sim).',
  usage: 'workcell run LAYOUT --schedule FILE (--patients N | --batch ID[:LANE] ...) [--sim] [--time-scale N] [--seed N] [--db FILE] [--faults FILE] [--inspect] [--inspect-url URL]',
  async run(args) {
    const parsed = parseArgs(args, { options: ['schedule', 'patients', 'batch', 'time-scale', 'seed', 'db', 'faults', 'inspect-url'], flags: ['sim', 'inspect'] });
    const layoutFile = parsed.positional[0];
    if (!layoutFile || parsed.positional.length > 1) throw new UsageError('name one layout file');
    const scheduleFile = option(parsed, 'schedule');
    if (!scheduleFile) throw new UsageError('--schedule FILE is required');
    const { layout } = loadWorkcell(layoutFile, [scheduleFile]);
    const batches = batchSpecs(parsed, layout.model.laneIds());
    const database = resolve(option(parsed, 'db') ?? DEFAULT_DATABASE);
    const settings: RunSettings = {
      layoutFile: resolve(layoutFile),
      timeScale: positiveNumber(parsed, 'time-scale', 1),
      seed: wholeNumber(parsed, 'seed', 1),
      sim: parsed.flags.has('sim'),
      clock: { wallAnchor: Date.now(), simAtAnchor: Date.now() },
    };
    const faults = readFaultsFile(option(parsed, 'faults'));
    if (faults && !settings.sim) throw new UsageError('--faults needs --sim (give the faults to `workcell sim` when the simulators run apart)');
    const log = new EventLog(database);
    try {
      for (const batch of batches) if (log.stream(batch.batchId).length > 0) throw new UsageError(`batch ${batch.batchId} already exists in ${database}; use another id or \`workcell resume --db ${database}\``);
      const session = await openWorkcell(settings, { faults });
      recordRunSettings(log, settings, { command: 'run', layoutHash: session.layoutHash });
      const text = readFileSync(scheduleFile, 'utf8');
      return await drive(session, log, settings, parsed, (orchestrator) => {
        for (const batch of batches) orchestrator.startBatch(batch, { file: resolve(scheduleFile), text });
      });
    } finally {
      log.close();
    }
  },
};

export const resumeCommand: Command = {
  name: 'resume',
  summary: 'Continue every unfinished batch of a database after a stop or crash.',
  usage: 'workcell resume [--db FILE] [--inspect] [--inspect-url URL] [--accept-layout-change --reason TEXT --user NAME [--password-env VAR | --password-file FILE]]',
  async run(args) {
    const parsed = parseArgs(args, { options: ['db', 'inspect-url', 'reason', 'user', 'password-env', 'password-file'], flags: ['inspect', 'accept-layout-change'] });
    if (parsed.positional.length > 0) throw new UsageError(`unexpected argument '${parsed.positional[0]}'`);
    const database = resolve(option(parsed, 'db') ?? DEFAULT_DATABASE);
    if (!existsSync(database)) throw new Error(`no database ${database}`);
    const log = new EventLog(database);
    try {
      const settings = lastRunSettings(log);
      if (!settings) throw new Error(`${database} records no run to resume`);
      if (settings.sim) throw new Error('that run simulated its modules inside the orchestrator process, so they stopped with it; resume needs modules that outlive the orchestrator (`workcell sim` or real devices)');
      const acceptance = parsed.flags.has('accept-layout-change') ? await readSigner(parsed, 'acceptance of a changed layout') : undefined;
      checkLayoutForResume(log, settings.layoutFile, acceptance, workcellNow(log));
      const session = await openWorkcell(settings);
      recordRunSettings(log, settings, { command: 'resume', layoutHash: session.layoutHash });
      return await drive(session, log, settings, parsed, (orchestrator) => {
        const resumed = orchestrator.resumeAll();
        process.stdout.write(resumed.length > 0 ? `Resuming ${resumed.join(', ')}\n` : 'No unfinished batch; finishing settle plates, if any.\n');
      });
    } finally {
      log.close();
    }
  },
};

async function drive(session: WorkcellSession, log: EventLog, settings: RunSettings, parsed: ParsedArgs, begin: (orchestrator: Orchestrator) => void): Promise<number> {
  const inspector = parsed.flags.has('inspect') ? await startInspector(option(parsed, 'inspect-url')) : undefined;
  const orchestrator = new Orchestrator({
    layout: session.layout,
    layoutFile: settings.layoutFile,
    layoutHash: session.layoutHash,
    log,
    drivers: session.drivers,
    clock: session.clock,
    deliver: session.simulation ? (bagId, position) => session.simulation!.deliver(bagId, position) : undefined,
    inspect: inspector?.inspect,
    runId: String(log.ofType('run.started').length),
    seed: settings.seed,
  });
  const interrupted = new Promise<'interrupted'>((resolveInterrupt) => {
    process.once('SIGINT', () => resolveInterrupt('interrupted'));
    process.once('SIGTERM', () => resolveInterrupt('interrupted'));
  });
  const progress = new ProgressPrinter();
  const timer = setInterval(() => progress.print(orchestrator.status().batches), 200);
  try {
    await orchestrator.start();
    process.stdout.write(`Workcell ${session.layout.id}: ${session.simulation ? 'simulated in this process' : 'modules at their layout endpoints'}, time scale ${settings.timeScale}, records in ${relative(process.cwd(), log.file) || log.file}\n`);
    begin(orchestrator);
    const fastForward = () => {
      if (!session.simulation) return;
      progress.print(orchestrator.status().batches);
      process.stdout.write('Batches done; fast-forwarding the simulated clock through settle-plate incubation...\n');
      session.fastForward();
    };
    const outcome = await Promise.race([orchestrator.finished({ whenBatchesDone: fastForward }).then(() => 'finished' as const), interrupted]);
    progress.print(orchestrator.status().batches);
    if (outcome === 'interrupted') {
      process.stdout.write(`Stopped. Every unfinished batch continues with: workcell resume --db ${log.file}\n`);
      return 130;
    }
    const batches = orchestrator.status().batches;
    process.stdout.write(`\n${batches.filter((b) => b.phase === 'completed').length} batch(es) completed, ${batches.filter((b) => b.phase === 'quarantined').length} quarantined.\n`);
    process.stdout.write(`Records are in ${log.file}:\n`);
    for (const b of batches) process.stdout.write(`  workcell record ${b.batchId} --db ${log.file}\n`);
    process.stdout.write(`Check every hash chain with: workcell verify ${log.file}\n`);
    process.stdout.write(`QA reviews each record, signed (enrol first with workcell operators add): workcell review BATCH --decision approve|reject --reason TEXT --user NAME --db ${log.file}\n`);
    return batches.every((b) => b.phase === 'completed') ? 0 : 1;
  } finally {
    clearInterval(timer);
    await orchestrator.stop();
    await session.close();
    inspector?.stop();
  }
}

/** One line per batch whenever its step, module or phase changes: readable live and in CI logs. */
class ProgressPrinter {
  private readonly last = new Map<string, string>();

  print(batches: BatchStatus[]): void {
    for (const b of batches) {
      const what = `${b.step} ${b.module ?? ''} ${b.phase} ${b.phase === 'held' ? b.note ?? '' : ''}`;
      if (this.last.get(b.batchId) === what) continue;
      this.last.set(b.batchId, what);
      const eta = b.expectedFinish !== undefined ? `  ETA ${timeOfDay(b.expectedFinish)}` : '';
      const where = b.module ? ` on ${b.module}` : '';
      const note = b.phase === 'held' || (b.phase === 'waiting' && b.note) ? `  (${b.note})` : '';
      process.stdout.write(`${b.patient.padEnd(7)} ${b.lane.padEnd(7)} ${b.step.padEnd(14)}${where.padEnd(12)} ${b.phase}${eta}${note}\n`);
    }
  }
}

async function startInspector(url: string | undefined): Promise<{ inspect: (event: InspectionEvent) => void; stop(): void }> {
  const { createWebSocketInspector } = await import('@statelyai/inspect');
  const inspector = createWebSocketInspector({ url: url ?? 'ws://127.0.0.1:8080' });
  process.stdout.write(`XState inspection events go to ${url ?? 'ws://127.0.0.1:8080'} (@statelyai/inspect WebSocket)\n`);
  return { inspect: (event) => inspector.inspect.next?.(event), stop: () => inspector.stop() };
}

function batchSpecs(parsed: ParsedArgs, lanes: string[]): BatchSpec[] {
  const patients = option(parsed, 'patients');
  const explicit = parsed.options.get('batch') ?? [];
  if ((patients === undefined) === (explicit.length === 0)) throw new UsageError('give either --patients N or one --batch ID[:LANE] per batch');
  const ids: Array<{ id: string; lane?: string }> = [];
  if (patients !== undefined) {
    const n = Number(patients);
    if (!Number.isInteger(n) || n < 1) throw new UsageError('--patients takes a whole number of at least 1');
    for (let i = 1; i <= n; i++) ids.push({ id: `P-${String(i).padStart(3, '0')}` });
  } else {
    for (const value of explicit) {
      const [id, lane] = value.split(':');
      if (!id || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id)) throw new UsageError(`--batch ${value}: a batch id is letters, digits, '.', '_' and '-'`);
      if (lane !== undefined && !lanes.includes(lane)) throw new UsageError(`--batch ${value}: the layout has no lane '${lane}' (lanes: ${lanes.join(', ')})`);
      ids.push({ id, lane });
    }
  }
  if (new Set(ids.map((b) => b.id)).size !== ids.length) throw new UsageError('each batch id may be given once');
  return ids.map((b, i) => ({ batchId: b.id, patient: b.id, chainOfIdentity: `COI-${b.id}`, bagId: `BAG-${b.id}`, lane: b.lane ?? lanes[i % lanes.length]! }));
}

function positiveNumber(parsed: ParsedArgs, name: string, fallback: number): number {
  const value = Number(option(parsed, name) ?? fallback);
  if (!(value > 0)) throw new UsageError(`--${name} takes a positive number`);
  return value;
}

function wholeNumber(parsed: ParsedArgs, name: string, fallback: number): number {
  const value = Number(option(parsed, name) ?? fallback);
  if (!Number.isInteger(value)) throw new UsageError(`--${name} takes a whole number`);
  return value;
}

const EXAMPLES = new URL('../', import.meta.url);

export const demoCommand: Command = {
  name: 'demo',
  summary: 'Four patients through the simulated 4-lane example workcell on the demo schedule (npm start).',
  usage: 'workcell demo [--patients N] [--time-scale N] [--db FILE]',
  async run(args) {
    const parsed = parseArgs(args, { options: ['patients', 'time-scale', 'db'] });
    if (parsed.positional.length > 0) throw new UsageError(`unexpected argument '${parsed.positional[0]}'`);
    // Each demo writes a database of its own: a record is never overwritten.
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
    const database = option(parsed, 'db') ?? `.workcell/demo-${stamp}.db`;
    mkdirSync(dirname(resolve(database)), { recursive: true });
    return runCommand.run([
      new URL('layouts/four-lane.yaml', EXAMPLES).pathname,
      '--schedule',
      new URL('schedules/demo.yaml', EXAMPLES).pathname,
      '--patients',
      option(parsed, 'patients') ?? '4',
      '--sim',
      '--time-scale',
      option(parsed, 'time-scale') ?? '1800',
      '--db',
      database,
    ]);
  },
};
