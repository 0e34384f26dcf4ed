/** `workcell run` and `workcell resume`: start batches, or continue the unfinished ones of a database. */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import type { LayoutModel } from '../config/layout.ts';
import { loadWorkcell } from '../config/validate.ts';
import { wallNow } from '../drivers/clock.ts';
import type { Simulation } from '../modules/simulators/workcell-simulation.ts';
import { EventLog } from '../orchestrator/event-log.ts';
import { DatabaseLease } from '../orchestrator/database-lease.ts';
import { continuationOf } from '../orchestrator/continuation.ts';
import { Orchestrator, type BatchSpec } from '../orchestrator/orchestrator.ts';
import { openWorkcell, type WorkcellSession } from '../orchestrator/session.ts';
import { checkLayoutForResume, lastRunSettings, layoutHashOf, recordRunSettings, workcellNow, type RunSettings } from '../orchestrator/run-settings.ts';
import { readSigner, type SignerOptions } from './passwords.ts';
import { existingDatabase } from './database.ts';
import { CLI, closingLines, currentWaits, quietNoticeInterval, RunDisplay } from './run-output.ts';
import { DEFAULT_DATABASE, UsageError } from './usage.ts';

/** How a run shows itself: the XState inspector. */
interface DisplayOptions {
  inspect?: boolean;
  inspectUrl?: string;
}

export interface RunOptions extends DisplayOptions {
  schedule?: string;
  patients?: string;
  batch?: string[];
  sim?: boolean;
  timeScale?: string;
  seed?: string;
  db?: string;
  faults?: string;
  portBase?: string;
  virtual?: boolean;
  /** With --virtual: the workcell time the run starts at. */
  start?: string;
}

/** `workcell run LAYOUT`. */
export async function run([layoutFile]: [string], options: RunOptions): Promise<number> {
  const scheduleFile = options.schedule;
  if (!scheduleFile) throw new UsageError('--schedule FILE is required');
  const { layout } = loadWorkcell(layoutFile, [scheduleFile]);
  const batches = batchSpecs(options, layout.model.laneIds());
  const database = resolve(options.db ?? DEFAULT_DATABASE);
  if (options.virtual) return (await import('./run-virtual.ts')).runVirtual(layout.model, layoutFile, scheduleFile, batches, database, options);
  if (options.start !== undefined) throw new UsageError('--start is for --virtual runs; a live run starts now');
  // A new run's workcell clock starts at the wall time it starts.
  const startedAt = wallNow();
  const settings: RunSettings = {
    layoutFile: resolve(layoutFile),
    timeScale: positiveNumber(options.timeScale, 'time-scale', 1),
    seed: wholeNumber(options.seed, 'seed', 1),
    sim: options.sim === true,
    clock: { wallAnchor: startedAt, simAtAnchor: startedAt },
  };
  if (options.faults && !settings.sim) throw new UsageError('--faults needs --sim (give the faults to `workcell sim` when the simulators run apart)');
  if (options.portBase !== undefined && !settings.sim) throw new UsageError('--port-base is for the simulators of --sim; against `workcell sim --port-base N`, run the layout copy it printed');
  const simulators = settings.sim ? await simulatorsOfRun(options, layout.model) : undefined;
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
    return await drive(session, log, settings, options, lease, simulators && session.simulation ? simulators.lines(session.simulation) : [], (orchestrator) => {
      if (continuation) {
        const resumed = orchestrator.resumeAll();
        process.stdout.write(`${log.file} holds earlier batches: ${resumed.length > 0 ? `resuming ${resumed.join(', ')} first, as workcell resume would` : 'all finished'}; what they left (line clearances owed, modules occupied, holds) is honoured before ${batches.map((b) => b.batchId).join(', ')} start.\n`);
      }
      for (const batch of batches) orchestrator.startBatch(batch, { file: resolve(scheduleFile), text });
    });
  } finally {
    closeHolding(log, lease);
  }
}

export interface ResumeOptions extends DisplayOptions, SignerOptions {
  db?: string;
  acceptLayoutChange?: boolean;
}

/** `workcell resume`. */
export async function resume(_args: [], options: ResumeOptions): Promise<number> {
  const database = existingDatabase(options.db);
  const log = new EventLog(database);
  let lease: DatabaseLease | undefined;
  try {
    lease = DatabaseLease.acquire(log.file, { what: 'resume' });
    const settings = lastRunSettings(log);
    if (!settings) throw new Error(`${database} records no run to resume`);
    if (settings.virtual) throw new Error('that run was a virtual one (--sim --virtual): its simulated devices and its time ended with it; run it again (the same inputs give the same records) into a new database');
    if (settings.sim) throw new Error('that run simulated its modules inside the orchestrator process, so they stopped with it; resume needs modules that outlive the orchestrator (`workcell sim` or real devices)');
    const acceptance = options.acceptLayoutChange ? await readSigner(options, 'acceptance of a changed layout') : undefined;
    checkLayoutForResume(log, settings.layoutFile, acceptance, workcellNow(log));
    const session = await openWorkcell(settings);
    recordRunSettings(log, settings, { command: 'resume', layoutHash: session.layoutHash });
    return await drive(session, log, settings, options, lease, [], (orchestrator) => {
      const resumed = orchestrator.resumeAll();
      process.stdout.write(resumed.length > 0 ? `Resuming ${resumed.join(', ')}\n` : 'No unfinished batch; finishing settle plates, if any.\n');
    });
  } finally {
    closeHolding(log, lease);
  }
}

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
async function simulatorsOfRun(options: RunOptions, layout: LayoutModel) {
  const [{ endpointLines, portBaseOption }, { readFaultsFile }, { PORT_BASE_VARIABLE, simulatorsOf }] = await Promise.all([import('./sim.ts'), import('../modules/simulators/faults.ts'), import('../modules/simulators/workcell-simulation.ts')]);
  const faults = readFaultsFile(options.faults, layout);
  const portBase = portBaseOption(options.portBase, layout) ?? Number(process.env[PORT_BASE_VARIABLE] || 0);
  return {
    start: simulatorsOf({ faults, portBase }),
    lines: (simulation: Simulation) => [simulatorsHeading(options.portBase ?? process.env[PORT_BASE_VARIABLE]), ...endpointLines(simulation.modules)],
  };
}

/** `simulatorLines`: where the simulators of this process listen, shown once the orchestrator has started. */
async function drive(session: WorkcellSession, log: EventLog, settings: RunSettings, shown: DisplayOptions, lease: DatabaseLease, simulatorLines: string[], begin: (orchestrator: Orchestrator) => void): Promise<number> {
  const display = new RunDisplay(quietNoticeInterval());
  const inspector = shown.inspect ? (await import('./inspector.ts')).startInspector(shown.inspectUrl, (line) => display.write(`${line}\n`)) : undefined;
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
  // Progress for people: at the computer's pace whatever the workcell clock's speed (the clock's poll).
  const timer = session.clock.poll(() => {
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
      const unfinished = orchestrator.status().batches.some((b) => b.phase !== 'completed' && b.phase !== 'quarantined');
      display.write(unfinished ? `Stopped. Every unfinished batch continues with: ${CLI} resume --db ${log.file}\n` : `Stopped with every batch done; the settle plates still incubating are finished with: ${CLI} resume --db ${log.file}\n`);
      return 130;
    }
    const batches = orchestrator.status().batches;
    display.write(closingLines(batches, log));
    return batches.every((b) => b.phase === 'completed') ? 0 : 1;
  } finally {
    session.clock.clearTimeout(timer);
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

function batchSpecs(options: RunOptions, lanes: string[]): BatchSpec[] {
  const patients = options.patients;
  const explicit = options.batch ?? [];
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

function positiveNumber(given: string | undefined, name: string, fallback: number): number {
  const value = Number(given ?? fallback);
  if (!(value > 0)) throw new UsageError(`--${name} takes a positive number`);
  return value;
}

function wholeNumber(given: string | undefined, name: string, fallback: number): number {
  const value = Number(given ?? fallback);
  if (!Number.isInteger(value)) throw new UsageError(`--${name} takes a whole number`);
  return value;
}

const EXAMPLES = new URL('../', import.meta.url);

/** `workcell demo`: `run` on the 4-lane example layout and the demo schedule, simulated. */
export async function demo(_args: [], options: { patients?: string; timeScale?: string; db?: string; portBase?: string }): Promise<number> {
  // Each demo writes a database of its own: a record is never overwritten.
  const stamp = new Date(wallNow()).toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const database = options.db ?? `.workcell/demo-${stamp}.db`;
  mkdirSync(dirname(resolve(database)), { recursive: true });
  return run([new URL('layouts/four-lane.yaml', EXAMPLES).pathname], {
    schedule: new URL('schedules/demo.yaml', EXAMPLES).pathname,
    patients: options.patients ?? '4',
    sim: true,
    timeScale: options.timeScale ?? '1800',
    db: database,
    portBase: options.portBase,
  });
}

/** A path as typed from here when it is below the working directory, else in full (never ../../tmp/...). */
function shortPath(file: string): string {
  const below = relative(process.cwd(), file);
  return below && !below.startsWith('..') ? below : file;
}
