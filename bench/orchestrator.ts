/**
 * Orchestrator benchmarks: how long one scheduling decision takes, how many durable (fsynced) events the
 * log appends per second, how fast the PostgreSQL mirror ships them, and a whole 16-lane workcell
 * running 32 patients through the CAR-T schedule.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadWorkcell } from '../config/validate.ts';
import pg from 'pg';
import { EventLog } from '../orchestrator/event-log.ts';
import { inSchema, PostgresMirror } from '../orchestrator/postgres-mirror.ts';
import { Orchestrator } from '../orchestrator/orchestrator.ts';
import { DeadlineFirstScheduler, type AllocationRequest, type ModuleView } from '../orchestrator/scheduler.ts';
import { simulateInProcess } from '../modules/simulators/workcell-simulation.ts';
import { SeededRandom } from '../modules/simulators/random.ts';
import { ScaledClock } from '../drivers/clock.ts';
import { ms, percentile, rate, table } from './harness.ts';

/** One decision over 100 waiting steps and 50 modules, some busy, some owing line clearance. */
export function schedulingBenchmark(decisions: number): string {
  const random = new SeededRandom(3);
  const kinds = ['cell-separator', 'electroporator', 'rocking-bioreactor', 'robot-arm', 'settle-plate-handler'];
  const modules = new Map<string, ModuleView>();
  for (let i = 0; i < 50; i++) {
    const clearance = random.next() < 0.3 ? 15 * 60_000 : 0;
    modules.set(`m-${i}`, { id: `m-${i}`, kind: kinds[i % kinds.length]!, state: random.next() < 0.1 ? 'faulted' : 'idle', occupiedBy: random.next() < 0.5 ? `B-${i}` : undefined, busyUntil: Date.now() + random.next() * 3_600_000, clearanceBefore: () => clearance });
  }
  const requests: AllocationRequest[] = Array.from({ length: 100 }, (_, i) => ({
    batchId: `P-${i}`,
    stepId: 'step',
    capability: `${kinds[i % 3]}.work`,
    candidates: [...modules.keys()].filter((_, m) => m % kinds.length === i % 3),
    holdDeadline: random.next() < 0.5 ? Date.now() + random.next() * 3_600_000 : undefined,
    waitingSince: Date.now() - random.next() * 3_600_000,
  }));
  const scheduler = new DeadlineFirstScheduler();
  const times: number[] = [];
  for (let i = 0; i < decisions; i++) {
    const start = performance.now();
    scheduler.decide(requests, modules, Date.now());
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return table('Scheduling decision: 100 waiting steps, 50 modules (every wait explained)', ['decisions', 'p50', 'p99', 'max'], [[String(decisions), ms(percentile(times, 0.5)), ms(percentile(times, 0.99)), ms(times.at(-1)!)]]);
}

/** Entries committed per second with synchronous=FULL: one per transaction, and in batches of 100. */
export function eventLogBenchmark(seconds: number): string {
  const rows: string[][] = [];
  for (const batch of [1, 100]) {
    const log = new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-bench-')), 'records.db'));
    let appended = 0;
    const start = performance.now();
    while (performance.now() - start < seconds * 1000) {
      const entries = Array.from({ length: batch }, (_, i) => ({ stream: `P-${(appended + i) % 32}`, type: 'telemetry' as const, at: Date.now(), data: { module: 'bio-1', channel: 'temperature', value: 37.02, unit: 'degC' } }));
      log.appendAll(entries);
      appended += batch;
    }
    const elapsed = (performance.now() - start) / 1000;
    rows.push([batch === 1 ? '1 (each entry its own commit)' : `${batch} per commit`, log.synchronous, rate(appended / elapsed), String(log.verify().breaks.length === 0 ? 'intact' : 'BROKEN')]);
    log.close();
  }
  return table('Durable event log (SQLite WAL, fsync per commit, SHA-256 chained per batch)', ['entries per transaction', 'synchronous', 'entries appended', 'chains after'], rows);
}

/**
 * Entries shipped per second from a SQLite log to PostgreSQL by the mirror (chain-checked, one
 * transaction per page), at two page sizes; the copy is verified afterwards.
 */
export async function mirrorBenchmark(entries: number, postgresUrl: string): Promise<string> {
  const title = `PostgreSQL mirror: ${entries} entries shipped from SQLite, chain-checked per page`;
  const headers = ['page size', 'entries shipped', 'copy verified'];
  const schema = `workcell_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (error) {
    return table(title, headers, [['-', `skipped: PostgreSQL not reachable at ${postgresUrl} (${(error as Error).message})`, '-']]);
  }
  const log = new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-bench-')), 'records.db'));
  for (let done = 0; done < entries; done += 500) {
    log.appendAll(Array.from({ length: Math.min(500, entries - done) }, (_, i) => ({ stream: `P-${(done + i) % 32}`, type: 'telemetry', at: Date.now(), data: { module: 'bio-1', channel: 'temperature', value: 37.02, unit: 'degC' } })));
  }
  const rows: string[][] = [];
  try {
    for (const pageSize of [100, 500]) {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
      const mirror = new PostgresMirror(inSchema(postgresUrl, schema), pageSize);
      try {
        const start = performance.now();
        const shipped = await mirror.ship(log);
        const elapsed = (performance.now() - start) / 1000;
        rows.push([String(pageSize), rate(shipped.copied / elapsed), (await mirror.verify(log.id)).breaks.length === 0 ? 'intact' : 'BROKEN']);
      } finally {
        await mirror.close();
      }
    }
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
    log.close();
  }
  return table(title, headers, rows);
}

/** A generated 16-lane layout: a bioreactor per lane, a separator per 2 lanes, an electroporator and an arm per 4. */
export function sixteenLaneLayout(): string {
  const lanes = Array.from({ length: 16 }, (_, i) => `lane-${i + 1}`);
  // Endpoints are never dialled (the devices run in-process) but each must be distinct to validate.
  let port = 40000;
  const endpoint = () => `connection: { sila2: { host: 127.0.0.1, port: ${port++}, insecure: true } }`;
  const group = (size: number, i: number) => lanes.slice(i * size, i * size + size);
  const module = (id: string, kind: string, laneList: string[], extra = '') =>
    `  - { id: ${id}, kind: ${kind}, vendor: Bench, model: Bench, lanes: [${laneList.join(', ')}], zone: isolator, positions: [port], lineClearance: { duration: 15 min }, qualification: { validUntil: 2099-12-31 }, ${endpoint()}${extra} }`;
  const lines = ['layout: { id: sixteen-lane, site: Benchmark }', `lanes:\n${lanes.map((l) => `  - { id: ${l} }`).join('\n')}`, 'zones:\n  - { id: isolator, grade: A, settlePlateLocations: [{ id: sp-1 }] }', 'positions:'];
  for (let g = 0; g < 4; g++) lines.push(`  - { id: intake-${g + 1}, role: intake, lanes: [${group(4, g).join(', ')}] }`, `  - { id: hotel-${g + 1}, role: storage, slots: 4, lanes: [${group(4, g).join(', ')}] }`);
  lines.push('  - { id: outbound, role: output }', 'modules:');
  lanes.forEach((lane, i) => lines.push(module(`bio-${i + 1}`, 'rocking-bioreactor', [lane])));
  for (let s = 0; s < 8; s++) lines.push(module(`sep-${s + 1}`, 'cell-separator', group(2, s)));
  for (let g = 0; g < 4; g++) {
    lines.push(module(`ep-${g + 1}`, 'electroporator', group(4, g)));
    const reach = [`intake-${g + 1}`, `hotel-${g + 1}`, 'outbound', `ep-${g + 1}.port`, `sep-${2 * g + 1}.port`, `sep-${2 * g + 2}.port`, ...group(4, g).map((l) => `bio-${l.slice(5)}.port`)];
    lines.push(`  - { id: arm-${g + 1}, kind: robot-arm, vendor: Bench, model: Bench, lanes: [${group(4, g).join(', ')}], zone: isolator, qualification: { validUntil: 2099-12-31 }, ${endpoint()}, reach: { positions: [${reach.join(', ')}], transferTime: 45 s } }`);
  }
  lines.push(`  - { id: sph-1, kind: settle-plate-handler, vendor: Bench, model: Bench, lanes: all, zone: isolator, servesZones: [isolator], qualification: { validUntil: 2099-12-31 }, ${endpoint()} }`);
  return `${lines.join('\n')}\n`;
}

/** 32 patients on 16 lanes through the 13-day CAR-T schedule, devices simulated in-process. */
export async function workcellBenchmark(timeScale: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-bench-'));
  const layoutFile = join(dir, 'sixteen-lane.yaml');
  writeFileSync(layoutFile, sixteenLaneLayout());
  const scheduleFile = resolve('schedules/cart-electroporation.yaml');
  const { layout } = loadWorkcell(layoutFile, [scheduleFile]);
  const clock = new ScaledClock(timeScale);
  const sim = simulateInProcess(layout.model, { clock, seed: 5 });
  const log = new EventLog(join(dir, 'records.db'));
  const orchestrator = new Orchestrator({ layout: layout.model, layoutFile, log, drivers: sim.drivers, clock: sim.clock, deliver: sim.deliver });
  const text = readFileSync(scheduleFile, 'utf8');
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  const simStart = sim.clock.now();
  await orchestrator.start();
  for (let i = 0; i < 32; i++) {
    const id = `P-${String(i + 1).padStart(3, '0')}`;
    orchestrator.startBatch({ batchId: id, patient: id, chainOfIdentity: `COI-${id}`, bagId: `BAG-${id}`, lane: `lane-${(i % 16) + 1}` }, { file: scheduleFile, text });
  }
  const watch = process.env.WORKCELL_BENCH_VERBOSE
    ? setInterval(() => {
        const counts: Record<string, number> = {};
        for (const b of orchestrator.status().batches) counts[`${b.step}/${b.phase}`] = (counts[`${b.step}/${b.phase}`] ?? 0) + 1;
        console.error(`${((sim.clock.now() - simStart) / 86_400_000).toFixed(2)} d`, JSON.stringify(counts));
      }, 5000)
    : undefined;
  let simulatedDays = 0;
  let wall = 0;
  let cpu = { user: 0, system: 0 };
  await orchestrator.finished({
    whenBatchesDone: () => {
      simulatedDays = (sim.clock.now() - simStart) / 86_400_000;
      wall = (performance.now() - wallStart) / 1000;
      cpu = process.cpuUsage(cpuStart);
      // The last settle plates still incubate for days; that tail is not the batches' work.
      clock.setTimeScale(Math.max(timeScale, 500_000));
    },
  });
  clearInterval(watch);
  const batches = orchestrator.status().batches;
  await orchestrator.stop();
  sim.stop();
  const entries = log.count();
  const deviations = log.ofType('deviation');
  const holdTimeDeviations = deviations.filter((d) => d.data.kind === 'hold-time-exceeded').length;
  const holds = log.ofType('hold.opened').length;
  if (process.env.WORKCELL_BENCH_VERBOSE) for (const d of deviations) console.error(`${d.stream} ${String(d.data.kind)}: ${String(d.data.message)}`);
  log.close();
  return table(
    `A 16-lane workcell, 32 patients through the CAR-T electroporation schedule (devices simulated in-process, no sockets; time scale ${timeScale.toLocaleString('en-US')})`,
    ['batches completed', 'simulated days (batches)', 'wall time', 'CPU of the process', 'CPU per wall s', 'log entries', 'holds', 'deviations (hold time)'],
    [[`${batches.filter((b) => b.phase === 'completed').length}/32`, simulatedDays.toFixed(1), `${wall.toFixed(1)} s`, `${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`, `${((cpu.user + cpu.system) / 1e6 / wall).toFixed(2)}`, entries.toLocaleString('en-US'), String(holds), `${deviations.length} (${holdTimeDeviations})`]],
  );
}
