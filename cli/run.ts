/** `workcell run` and `workcell resume`: start batches, or continue the unfinished ones of a database. */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import type { LayoutModel } from '../config/layout.ts';
import { loadWorkcell } from '../config/validate.ts';
import type { Simulation } from '../modules/simulators/workcell-simulation.ts';
import { EventLog } from '../orchestrator/event-log.ts';
import { DatabaseLease } from '../orchestrator/database-lease.ts';
import { continuationOf } from '../orchestrator/continuation.ts';
import { Orchestrator, type BatchSpec } from '../orchestrator/orchestrator.ts';
import { openWorkcell, type WorkcellSession } from '../orchestrator/session.ts';
import { checkLayoutForResume, lastRunSettings, layoutHashOf, recordRunSettings, workcellNow, type RunSettings } from '../orchestrator/run-settings.ts';
import { parseArgs, option, readSigner, type ParsedArgs } from './args.ts';
import { DEFAULT_DATABASE, existingDatabase } from './database.ts';
import { CLI, closingLines, currentWaits, quietNoticeInterval, RunDisplay } from './run-output.ts';
import { UsageError, type Command } from './main.ts';

export const runCommand: Command = {
  name: 'run',
  summary: 'Run patient batches through a workcell (simulated in-process with --sim).',
  usage: 'workcell run LAYOUT --schedule FILE (--patients N | --batch ID[:LANE] ...) [--sim] [--time-scale N] [--seed N] [--db FILE] [--faults FILE] [--port-base N] [--inspect] [--inspect-url URL]',
  async run(args) {
    const parsed = parseArgs(args, { options: ['schedule', 'patients', 'batch', 'time-scale', 'seed', 'db', 'faults', 'inspect-url', 'port-base'], flags: ['sim', 'inspect'] });
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
    if (option(parsed, 'faults') && !settings.sim) throw new UsageError('--faults needs --sim (give the faults to `workcell sim` when the simulators run apart)');
    if (option(parsed, 'port-base') !== undefined && !settings.sim) throw new UsageError('--port-base is for the simulators of --sim; against `workcell sim --port-base N`, run the layout copy it printed');
    const simulators = settings.sim ? await simulatorsOfRun(parsed, layout.model) : undefined;
    const log = new EventLog(database);
    let lease: DatabaseLease | undefined;
    try {
      lease = DatabaseLease.acquire(log.file, { what: 'start this run' });
      for (const batch of batches) if (log.stream(batch.batchId).length > 0) throw new UsageError(`batch ${batch.batchId} already exists in ${database}; use another id or \`workcell resume --db ${database}\``);
      // A database that holds batches already: what they left (owed clearances, occupied modules, holds) is honoured.
      const continuation = continuationOf(log, { layoutFile: settings.layoutFile, layoutHash: layoutHashOf(settings.layoutFile), sim: settings.sim });
      if (continuation) settings.clock = continuation.clock;
      const session = await openWorkcell(settings, { simulate: simulators?.start });
      recordRunSettings(log, settings, { command: 'run', layoutHash: session.layoutHash });
      const text = readFileSync(scheduleFile, 'utf8');
      return await drive(session, log, settings, parsed, lease, simulators && session.simulation ? simulators.lines(session.simulation) : [], (orchestrator) => {
        if (continuation) {
          const resumed = orchestrator.resumeAll();
          process.stdout.write(`${log.file} holds earlier batches: ${resumed.length > 0 ? `resuming ${resumed.join(', ')} first, as workcell resume would` : 'all finished'}; what they left (line clearances owed, modules occupied, holds) is honoured before ${batches.map((b) => b.batchId).join(', ')} start.\n`);
        }
        for (const batch of batches) orchestrator.startBatch(batch, { file: resolve(scheduleFile), text });
      });
    } finally {
      closeHolding(log, lease);
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
    const database = existingDatabase(option(parsed, 'db'));
    const log = new EventLog(database);
    let lease: DatabaseLease | undefined;
    try {
      lease = DatabaseLease.acquire(log.file, { what: 'resume' });
      const settings = lastRunSettings(log);
      if (!settings) throw new Error(`${database} records no run to resume`);
      if (settings.sim) throw new Error('that run simulated its modules inside the orchestrator process, so they stopped with it; resume needs modules that outlive the orchestrator (`workcell sim` or real devices)');
      const acceptance = parsed.flags.has('accept-layout-change') ? await readSigner(parsed, 'acceptance of a changed layout') : undefined;
      checkLayoutForResume(log, settings.layoutFile, acceptance, workcellNow(log));
      const session = await openWorkcell(settings);
      recordRunSettings(log, settings, { command: 'resume', layoutHash: session.layoutHash });
      return await drive(session, log, settings, parsed, lease, [], (orchestrator) => {
        const resumed = orchestrator.resumeAll();
        process.stdout.write(resumed.length > 0 ? `Resuming ${resumed.join(', ')}\n` : 'No unfinished batch; finishing settle plates, if any.\n');
      });
    } finally {
      closeHolding(log, lease);
    }
  },
};

/** The log is closed (its last checkpoint signed) before the lease goes: no other orchestrator writes in between. */
function closeHolding(log: EventLog, lease: DatabaseLease | undefined): void {
  try {
    log.close();
  } finally {
    lease?.release();
  }
}

/**
 * The simulator code, loaded for --sim only: a run against the layout's own modules carries none. Simulators
 * in this process serve only this process: ports the OS picks unless told otherwise.
 */
async function simulatorsOfRun(parsed: ParsedArgs, layout: LayoutModel) {
  const [{ endpointLines, portBaseOption }, { readFaultsFile }, { PORT_BASE_VARIABLE, simulatorsOf }] = await Promise.all([import('./sim.ts'), import('../modules/simulators/faults.ts'), import('../modules/simulators/workcell-simulation.ts')]);
  const faults = readFaultsFile(option(parsed, 'faults'), layout);
  const portBase = portBaseOption(parsed, layout) ?? Number(process.env[PORT_BASE_VARIABLE] || 0);
  return {
    start: simulatorsOf({ faults, portBase }),
    lines: (simulation: Simulation) => [simulatorsHeading(option(parsed, 'port-base') ?? process.env[PORT_BASE_VARIABLE]), ...endpointLines(simulation.modules)],
  };
}

/** `simulatorLines`: where the simulators of this process listen, shown once the orchestrator has started. */
async function drive(session: WorkcellSession, log: EventLog, settings: RunSettings, parsed: ParsedArgs, lease: DatabaseLease, simulatorLines: string[], begin: (orchestrator: Orchestrator) => void): Promise<number> {
  const display = new RunDisplay(quietNoticeInterval());
  const inspector = parsed.flags.has('inspect') ? (await import('./inspector.ts')).startInspector(option(parsed, 'inspect-url'), (line) => display.write(`${line}\n`)) : undefined;
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
    lease,
  });
  // Removed again when the run ends: a listener left behind would swallow a later Ctrl-C.
  let interrupt: () => void = () => undefined;
  const interrupted = new Promise<'interrupted'>((resolveInterrupt) => (interrupt = () => resolveInterrupt('interrupted')));
  process.on('SIGINT', interrupt).on('SIGTERM', interrupt);
  // Taken over while this process was frozen past the timeout: stop at once, sending nothing more.
  let lost: string | undefined;
  lease.onLost((by) => {
    lost = by ? `process ${by.pid} on ${by.host} (${by.command})` : 'another process';
    interrupt();
  });
  const showProgress = () => display.progress(orchestrator.status().batches, session.clock.now());
  const timer = setInterval(() => {
    showProgress();
    display.noticeIfQuiet(() => currentWaits(orchestrator, log, session.layout));
  }, 200);
  try {
    await orchestrator.start();
    display.write(`Workcell ${session.layout.id}: ${session.simulation ? 'simulated in this process' : 'modules at their layout endpoints'}, time scale ${settings.timeScale}, records in ${shortPath(log.file)}\n`);
    if (simulatorLines.length > 0) display.write(`${simulatorLines.join('\n')}\n`);
    begin(orchestrator);
    const fastForward = () => {
      if (!session.simulation) return;
      showProgress();
      display.write('Batches done; fast-forwarding the simulated clock through settle-plate incubation...\n');
      session.fastForward();
    };
    const outcome = await Promise.race([orchestrator.finished({ whenBatchesDone: fastForward }).then(() => 'finished' as const), interrupted]);
    showProgress();
    if (outcome === 'interrupted' && lost) {
      display.write(`Stopped: the lease on ${log.file} was taken over by ${lost} while this process did not renew it; that process drives the batches now.\n`);
      return 1;
    }
    if (outcome === 'interrupted') {
      display.write(`Stopped. Every unfinished batch continues with: ${CLI} resume --db ${log.file}\n`);
      return 130;
    }
    const batches = orchestrator.status().batches;
    display.write(closingLines(batches, log));
    return batches.every((b) => b.phase === 'completed') ? 0 : 1;
  } finally {
    clearInterval(timer);
    process.off('SIGINT', interrupt).off('SIGTERM', interrupt);
    await orchestrator.stop();
    await session.close();
    await inspector?.stop();
  }
}

function simulatorsHeading(portBase: string | undefined): string {
  const picked = portBase === undefined || Number(portBase) === 0;
  return `Simulators in this process, ${picked ? 'on ports the OS picked (--port-base N for N, N+1, ... in layout order)' : `from port ${portBase}, in layout order`}:`;
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
  usage: 'workcell demo [--patients N] [--time-scale N] [--db FILE] [--port-base N]',
  async run(args) {
    const parsed = parseArgs(args, { options: ['patients', 'time-scale', 'db', 'port-base'] });
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
      ...(option(parsed, 'port-base') === undefined ? [] : ['--port-base', option(parsed, 'port-base')!]),
    ]);
  },
};

/** A path as typed from here when it is below the working directory, else in full (never ../../tmp/...). */
function shortPath(file: string): string {
  const below = relative(process.cwd(), file);
  return below && !below.startsWith('..') ? below : file;
}
