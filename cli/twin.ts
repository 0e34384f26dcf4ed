/**
 * The digital twin: a campaign of batches through the real orchestrator and the in-process simulated
 * devices (the same behaviours, faults and world as the SiLA 2 and OPC UA simulators), in virtual time
 * (drivers/virtual-clock.ts). Batches arrive at their workcell times; the run ends when every batch is
 * done and every settle plate read, at the horizon, or when nothing in virtual time can move any more
 * (a batch waits for an operator). Identifiers come from the seed, so the same layout, schedules,
 * arrivals and seed give the same entries in the same order: the digest (orchestrator/log-digest.ts)
 * says so in one line. At the cli level: it puts the orchestrator and the simulators together, as
 * `run --sim` does (`run --sim --virtual`, `plan` and the benchmarks use it).
 */
import type { LayoutModel } from '../config/layout.ts';
import { VirtualClock } from '../drivers/virtual-clock.ts';
import { wallNow, type Timer } from '../drivers/clock.ts';
import { seededIds } from '../drivers/ids.ts';
import { EventLog, WORKCELL_STREAM } from '../orchestrator/event-log.ts';
import { DigestOfEntries } from '../orchestrator/log-digest.ts';
import { Orchestrator, type BatchStatus, type ScheduleSnapshot } from '../orchestrator/orchestrator.ts';
import { layoutHashOf } from '../orchestrator/run-settings.ts';
import type { Scheduler } from '../orchestrator/scheduler.ts';
import type { FaultSpec } from '../modules/simulators/faults.ts';
import { simulateInProcess } from '../modules/simulators/workcell-simulation.ts';
import type { SimulationWorld } from '../modules/simulators/world.ts';
import type { ModuleDriver } from '../drivers/module.ts';

export interface TwinArrival {
  batchId: string;
  patient: string;
  /** When the patient's starting material arrives: workcell time, ms since the epoch (not before startAt). */
  at: number;
  /** The lane; by default the layout's lanes in turn, in order of arrival. */
  lane?: string;
  schedule: ScheduleSnapshot;
}

export interface TwinOptions {
  layout: LayoutModel;
  layoutFile: string;
  arrivals: readonly TwinArrival[];
  seed: number;
  /** Faults per module id (faults.ts). */
  faults?: Record<string, FaultSpec[]>;
  scheduler?: Scheduler;
  /** Workcell time the run starts at (ms since the epoch). */
  startAt: number;
  /** The run stops this long after startAt (ms); unfinished batches are recorded as interrupted. */
  horizonMs?: number;
  /** The database the run writes (created if missing): a normal event log that records and verify read. */
  logFile: string;
  /**
   * 'simulation' (default): commits are not fsynced one by one, the cost that would dominate a twin
   * (event-log.ts); 'records' for a run whose database is to be kept as a record.
   */
  durability?: 'records' | 'simulation';
  /**
   * Process seconds between sensor samples of a running command: four hours by default (a twin answers
   * capacity questions, and every sample is a log entry to compute: six a day still draw a culture); 60 samples each minute, as a live simulation does.
   */
  samplingSeconds?: number;
  /** Called with the log before the orchestrator starts (to record run settings, enrol operators). */
  prepare?: (log: EventLog) => void;
  /** Called with the workcell time as the run goes, at most every 100 ms of wall time, and once at the end. */
  onProgress?: (now: number) => void;
}

export interface TwinResult {
  /** The run's log, still open: the caller closes it. */
  log: EventLog;
  digest: string;
  startedAt: number;
  endedAt: number;
  /** Log entries the run wrote. */
  events: number;
  /** Timers the virtual clock fired (device work, telemetry, hold times, arrivals). */
  timersFired: number;
  /** finished: every batch done, every plate read; horizon: stopped there; stalled: nothing could move any more (a batch held for an operator; see batches). */
  outcome: 'finished' | 'horizon' | 'stalled';
  /** Every batch's status at the end. */
  batches: BatchStatus[];
}

const PROGRESS_EVERY_WALL_MS = 100;
const TWIN_SAMPLING_SECONDS = 4 * 3600;
const STALL_MS = 86_400_000;

/** The pieces of a twin run, started: for runTwin, and for tests that act on the run as it goes. */
export interface TwinWorkcell {
  clock: VirtualClock;
  world: SimulationWorld;
  drivers: ReadonlyMap<string, ModuleDriver>;
  log: EventLog;
  orchestrator: Orchestrator;
  /** Stops the orchestrator, the devices and the clock; the log stays open. */
  stop(): Promise<void>;
}

export type TwinWorkcellOptions = Pick<TwinOptions, 'layout' | 'layoutFile' | 'seed' | 'faults' | 'scheduler' | 'startAt' | 'logFile' | 'durability' | 'samplingSeconds' | 'prepare'> & {
  /** Puts something between the orchestrator and a module's driver (a lossy link, in tests). */
  wrapDriver?: (moduleId: string, driver: ModuleDriver) => ModuleDriver;
};

/** The orchestrator on in-process simulated devices in virtual time, started (no batch yet). */
export async function startTwinWorkcell(options: TwinWorkcellOptions): Promise<TwinWorkcell> {
  const clock = new VirtualClock(options.startAt);
  const sim = simulateInProcess(options.layout, { clock, seed: options.seed, faults: options.faults, samplingSeconds: options.samplingSeconds ?? TWIN_SAMPLING_SECONDS, seededIds: true });
  const drivers = new Map<string, ModuleDriver>([...sim.drivers].map(([id, driver]) => [id, options.wrapDriver?.(id, driver) ?? driver]));
  const log = new EventLog(options.logFile, { durability: options.durability ?? 'simulation' });
  const stopDevices = () => {
    sim.stop();
    clock.stop();
  };
  try {
    options.prepare?.(log);
    const orchestrator = new Orchestrator({
      layout: options.layout,
      layoutFile: options.layoutFile,
      layoutHash: layoutHashOf(options.layoutFile),
      log,
      drivers,
      clock,
      ids: seededIds(options.seed, 'locks'),
      scheduler: options.scheduler,
      deliver: sim.deliver,
      seed: options.seed,
    });
    await orchestrator.start();
    return {
      clock,
      world: sim.world,
      drivers,
      log,
      orchestrator,
      async stop() {
        try {
          await orchestrator.stop();
        } finally {
          stopDevices();
        }
      },
    };
  } catch (error) {
    stopDevices();
    log.close();
    throw error;
  }
}

export async function runTwin(options: TwinOptions): Promise<TwinResult> {
  const arrivals = assignLanes(options.arrivals, options.layout.laneIds(), options.startAt);
  // The digest follows the entries as they are appended: the log is not read again for it.
  const digest = new DigestOfEntries();
  let entriesBefore = 0;
  const twin = await startTwinWorkcell({
    ...options,
    prepare: (log) => {
      log.subscribe((entry, dataJson) => digest.add(entry, dataJson));
      options.prepare?.(log);
      entriesBefore = log.lastSeq();
    },
  });
  const { clock, log, orchestrator } = twin;
  try {
    const running = orchestrator;
    let lastProgress = 0;
    const progress = options.onProgress
      ? clock.poll(() => {
          if (wallNow() - lastProgress < PROGRESS_EVERY_WALL_MS) return;
          lastProgress = wallNow();
          options.onProgress!(clock.now());
        }, PROGRESS_EVERY_WALL_MS)
      : undefined;
    let stallWatch: Timer | undefined;
    const outcome = await new Promise<TwinResult['outcome']>((resolve, reject) => {
      let arrived = 0;
      const allArrived = new Promise<void>((resolveArrived) => {
        if (arrivals.length === 0) resolveArrived();
        for (const arrival of arrivals) {
          clock.setTimeout(() => {
            try {
              running.startBatch({ batchId: arrival.batchId, patient: arrival.patient, chainOfIdentity: `COI-${arrival.batchId}`, bagId: `BAG-${arrival.batchId}`, lane: arrival.lane }, arrival.schedule);
            } catch (error) {
              reject(error);
            }
            if (++arrived === arrivals.length) resolveArrived();
          }, arrival.at - options.startAt);
        }
      });
      void allArrived.then(() => running.finished()).then(() => resolve('finished'), reject);
      // In the background: the horizon ends a run that is still going, and keeps none going.
      if (options.horizonMs !== undefined) clock.setTimeout(() => resolve('horizon'), options.horizonMs, { background: true });
      clock.onIdle(() => {
        if (arrived === arrivals.length) resolve('stalled');
      });
      stallWatch = watchForStall(running, log, clock, () => arrived === arrivals.length, () => resolve('stalled'));
    });
    clock.clearTimeout(progress);
    clock.clearTimeout(stallWatch);
    const endedAt = clock.now();
    const batches = running.status().batches;
    await twin.stop();
    options.onProgress?.(endedAt);
    return { log, digest: digest.hex(), startedAt: options.startAt, endedAt, events: log.lastSeq() - entriesBefore, timersFired: clock.fired, outcome, batches };
  } catch (error) {
    await twin.stop();
    log.close();
    throw error;
  }
}

/**
 * A run in which every unfinished batch is held or waiting, one at least held (for an operator's answer,
 * which virtual time cannot bring), and no batch has written anything for a day of workcell time, has
 * stalled: the settle plates would go on rotating around it for ever.
 */
function watchForStall(orchestrator: Orchestrator, log: EventLog, clock: VirtualClock, allArrived: () => boolean, stalled: () => void): Timer {
  let lastBatchEntryAt = clock.now();
  log.subscribe((entry) => {
    if (entry.stream !== WORKCELL_STREAM && entry.type !== 'telemetry') lastBatchEntryAt = entry.at;
  });
  return clock.poll(() => {
    if (!allArrived() || clock.now() - lastBatchEntryAt < STALL_MS) return;
    const open = orchestrator.status().batches.filter((b) => b.phase !== 'completed' && b.phase !== 'quarantined');
    if (open.some((b) => b.phase === 'held') && open.every((b) => b.phase === 'held' || b.phase === 'waiting')) stalled();
  }, 1000);
}

/** Arrivals in time order (stable), each with its lane: given, or the layout's lanes in turn. */
function assignLanes(arrivals: readonly TwinArrival[], lanes: readonly string[], startAt: number): Array<TwinArrival & { lane: string }> {
  const ids = new Set<string>();
  let next = 0;
  return [...arrivals]
    .sort((a, b) => a.at - b.at)
    .map((arrival) => {
      if (ids.has(arrival.batchId)) throw new Error(`batch ${arrival.batchId} arrives twice; each batch id is given once`);
      ids.add(arrival.batchId);
      if (!Number.isFinite(arrival.at) || arrival.at < startAt) throw new Error(`batch ${arrival.batchId} arrives at ${new Date(arrival.at).toISOString()}, before the run starts (${new Date(startAt).toISOString()})`);
      if (arrival.lane !== undefined && !lanes.includes(arrival.lane)) throw new Error(`batch ${arrival.batchId}: the layout has no lane '${arrival.lane}' (lanes: ${lanes.join(', ')})`);
      return { ...arrival, lane: arrival.lane ?? lanes[next++ % lanes.length]! };
    });
}
