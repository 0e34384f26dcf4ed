/**
 * Orchestration tests in virtual time: the real orchestrator on in-process simulated devices
 * (cli/twin.ts), the clock jumping from event to event. For every test that does not test real sockets
 * or crash recovery: a run takes its computation's time, and no host latency can make a hold time run
 * over. An operator acts at an instant of the run: `everyMoment` (each instant in which anything
 * happened) or on an entry (waitForEntry resolves as it is appended, before time moves on).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadWorkcell } from '../../config/validate.ts';
import type { LayoutModel } from '../../config/layout.ts';
import type { ModuleDriver } from '../../drivers/module.ts';
import type { VirtualClock } from '../../drivers/virtual-clock.ts';
import type { FaultSpec } from '../../modules/simulators/faults.ts';
import type { SimulationWorld } from '../../modules/simulators/world.ts';
import type { EventLog } from '../../orchestrator/event-log.ts';
import type { BatchSpec, Orchestrator } from '../../orchestrator/orchestrator.ts';
import { layoutHashOf, recordRunSettings } from '../../orchestrator/run-settings.ts';
import { startTwinWorkcell } from '../../cli/twin.ts';
import { enrolTestOperators } from './operators.ts';
import { SHORT_SCHEDULE, TWO_LANE } from './orchestration.ts';

export interface VirtualTestRun {
  layoutFile: string;
  layout: LayoutModel;
  log: EventLog;
  orchestrator: Orchestrator;
  clock: VirtualClock;
  world: SimulationWorld;
  drivers: ReadonlyMap<string, ModuleDriver>;
  /** Calls `fn` at the end of every instant of the run in which anything happened (an operator at the HMI). */
  everyMoment(fn: () => void): () => void;
  /** Waits for every batch and settle plate (virtual time skips the incubation). */
  finished(): Promise<void>;
  /** Stops the orchestrator, the devices and the clock, then closes the log unless told not to. */
  stop(options?: { closeLog?: boolean }): Promise<void>;
}

export async function startVirtualRun(options: {
  batches: Array<Pick<BatchSpec, 'batchId' | 'lane'>>;
  faults?: Record<string, FaultSpec[]>;
  schedule?: string;
  layout?: string;
  seed?: number;
  /** Workcell time at the start (ms); 2027-01-04 08:00 UTC by default, the same in every run. */
  startAt?: number;
  wrapDriver?: (moduleId: string, driver: ModuleDriver) => ModuleDriver;
}): Promise<VirtualTestRun> {
  const scheduleFile = options.schedule ?? SHORT_SCHEDULE;
  const text = readFileSync(scheduleFile, 'utf8');
  // No sockets: the layout's own file serves, ports and all (nothing listens on them).
  const layoutFile = options.layout ?? TWO_LANE;
  const { layout } = loadWorkcell(layoutFile);
  const startAt = options.startAt ?? Date.UTC(2027, 0, 4, 8);
  const seed = options.seed ?? 7;
  const twin = await startTwinWorkcell({
    layout: layout.model,
    layoutFile,
    seed,
    faults: options.faults,
    startAt,
    logFile: join(mkdtempSync(join(tmpdir(), 'workcell-run-')), 'records.db'),
    // The sampling of a live simulation: tests read the telemetry of steps.
    samplingSeconds: 60,
    wrapDriver: options.wrapDriver,
    prepare: (log) => {
      recordRunSettings(log, { layoutFile, timeScale: 1, seed, sim: true, virtual: true, clock: { wallAnchor: startAt, simAtAnchor: startAt } }, { command: 'run', layoutHash: layoutHashOf(layoutFile) });
      enrolTestOperators(log);
    },
  });
  for (const b of options.batches) twin.orchestrator.startBatch({ ...b, patient: b.batchId, chainOfIdentity: `COI-${b.batchId}`, bagId: `BAG-${b.batchId}` }, { file: scheduleFile, text });
  return {
    layoutFile,
    layout: layout.model,
    log: twin.log,
    orchestrator: twin.orchestrator,
    clock: twin.clock,
    world: twin.world,
    drivers: twin.drivers,
    everyMoment(fn) {
      const timer = twin.clock.poll(fn, 100);
      return () => twin.clock.clearTimeout(timer);
    },
    finished: () => twin.orchestrator.finished(),
    async stop({ closeLog = true } = {}) {
      await twin.stop();
      if (closeLog) twin.log.close();
    },
  };
}
