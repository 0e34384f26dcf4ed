/**
 * The simulated workcell: how fast a 12-day expansion runs at a high time scale (through SiLA 2, with a
 * real client), and how many simulated modules one process hosts at 1x while their telemetry stays on
 * schedule (each publishing every channel every second, with a SiLA client subscribed to all of them).
 */
import { ScaledClock } from '../drivers/clock.ts';
import { loadCatalogue } from '../config/catalogue.ts';
import { SilaModuleSimulator } from '../modules/simulators/sila-simulator.ts';
import { SimulationWorld } from '../modules/simulators/world.ts';
import { SilaModuleDriver } from '../drivers/sila2/module-driver.ts';
import { ms, table } from './harness.ts';

const catalogue = loadCatalogue();

export async function simulationBenchmark(options: { moduleCounts: number[]; scheduleSeconds: number }): Promise<string> {
  return [await expansionAtScale([1e5, 1e6]), await modulesAtRealTime(options.moduleCounts, options.scheduleSeconds)].join('\n');
}

async function expansionAtScale(scales: number[]): Promise<string> {
  const rows: string[][] = [];
  const kind = catalogue.kind('rocking-bioreactor')!;
  for (const timeScale of scales) {
    const world = new SimulationWorld();
    world.introduce({ id: 'BAG', container: 'bag', position: 'bio-1.port', material: { cells: 5e8, viability: 90, volumeMl: 1000 } });
    const simulator = await new SilaModuleSimulator({ moduleId: 'bio-1', kind, world, clock: new ScaledClock(timeScale), seed: 1 }).start();
    const driver = await SilaModuleDriver.connect('bio-1', kind, { host: '127.0.0.1', port: simulator.port, ca: simulator.server.certificatePem });
    const cpu = process.cpuUsage();
    const started = performance.now();
    const result = await (await driver.execute('culture', { duration: 12, temperature: 37, co2: 5, rockingSpeed: 12, rockingAngle: 6, perfusion: 'by-density' }, { idempotencyKey: `x${timeScale}`, itemId: 'BAG' })).result();
    const wall = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    await driver.close();
    await simulator.stop();
    const simulated = 12 * 86400;
    rows.push([timeScale.toLocaleString('en-US'), `${wall.toFixed(2)} s`, Math.round(simulated / wall).toLocaleString('en-US'), `${((used.user + used.system) / 1000).toFixed(0)} ms (${(((used.user + used.system) / 1e6 / wall) * 100).toFixed(0)}%)`, `${Number(result.foldExpansion).toFixed(1)}x`]);
  }
  return table('A 12-day expansion (rocking bioreactor over SiLA 2 with TLS, one process: simulator and client)', ['time scale', 'wall time', 'simulated s per wall s', 'CPU of the process', 'fold expansion'], rows);
}

async function modulesAtRealTime(counts: number[], seconds: number): Promise<string> {
  const rows: string[][] = [];
  const kind = catalogue.kind('rocking-bioreactor')!;
  let largestOnSchedule = 0;
  for (const count of counts) {
    const world = new SimulationWorld();
    const clock = new ScaledClock(1);
    const simulators = await Promise.all(Array.from({ length: count }, (_, i) => new SilaModuleSimulator({ moduleId: `bio-${i}`, kind, world, clock, seed: i, telemetryIntervalMs: 1000 }).start()));
    const drivers = await Promise.all(simulators.map((s, i) => SilaModuleDriver.connect(`bio-${i}`, kind, { host: '127.0.0.1', port: s.port, ca: s.server.certificatePem })));
    let samples = 0;
    const stops = await Promise.all(drivers.map((d) => d.watchTelemetry(() => samples++)));
    // Setup (TLS handshakes, feature discovery) is not what is measured: start the window afresh.
    await new Promise((r) => setTimeout(r, 1500));
    for (const s of simulators) s.telemetryLateness.length = 0;
    samples = 0;
    const cpu = process.cpuUsage();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const used = process.cpuUsage(cpu);
    const lateness = simulators.flatMap((s) => s.telemetryLateness).sort((a, b) => a - b);
    const p99 = lateness[Math.floor(lateness.length * 0.99)] ?? 0;
    const onSchedule = p99 < 100;
    if (onSchedule) largestOnSchedule = Math.max(largestOnSchedule, count);
    rows.push([String(count), String(count * 8), samples.toLocaleString('en-US'), ms(lateness[Math.floor(lateness.length / 2)] ?? 0), ms(p99), `${(((used.user + used.system) / 1e6 / seconds) * 100).toFixed(0)}%`, onSchedule ? 'yes' : 'no']);
    stops.forEach((stop) => stop());
    await Promise.all(drivers.map((d) => d.close()));
    await Promise.all(simulators.map((s) => s.stop()));
  }
  return `${table(`Simulated bioreactors at 1x in one process (8 channels each, published every 1 s, all subscribed over SiLA 2; ${seconds} s per row)`, ['modules', 'channels', 'samples delivered', 'tick lateness p50', 'p99', 'CPU', 'on schedule (p99 < 100 ms)'], rows)}\nLargest count on schedule: ${largestOnSchedule} modules.`;
}
