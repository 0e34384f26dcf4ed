import { afterEach, describe, expect, it } from 'vitest';
import { ScaledClock } from '../../drivers/clock.ts';
import { loadCatalogue } from '../../config/catalogue.ts';
import type { ModuleState } from '../../config/state-model.ts';
import { SilaModuleSimulator, type SilaSimulatorOptions } from '../../modules/simulators/sila-simulator.ts';
import { SimulationWorld } from '../../modules/simulators/world.ts';
import type { FaultSpec } from '../../modules/simulators/faults.ts';
import { SilaModuleDriver } from '../../drivers/sila2/module-driver.ts';
import { ModuleError, type TelemetrySample } from '../../drivers/module.ts';
import { SilaClient } from '../../drivers/sila2/client.ts';

const catalogue = loadCatalogue();
const running: Array<{ simulator: SilaModuleSimulator; driver: SilaModuleDriver }> = [];

afterEach(async () => {
  for (const { simulator, driver } of running.splice(0)) {
    await driver.close();
    await simulator.stop();
  }
});

/** Starts a simulated module over SiLA 2 (TLS) and connects to it through the module interface. */
async function module(id: string, kind: string, shared: { world: SimulationWorld; clock: ScaledClock; seed?: number }, extra: Partial<SilaSimulatorOptions> = {}) {
  const simulator = await new SilaModuleSimulator({ moduleId: id, kind: catalogue.kind(kind)!, world: shared.world, clock: shared.clock, seed: shared.seed ?? 42, ...extra }).start();
  const driver = await SilaModuleDriver.connect(id, catalogue.kind(kind)!, { host: '127.0.0.1', port: simulator.port, ca: simulator.server.certificatePem });
  running.push({ simulator, driver });
  return { simulator, driver };
}

/** What a module reports holding, read over SiLA like any client would. */
async function loadedItems(simulator: SilaModuleSimulator): Promise<string[]> {
  const client = await SilaClient.connect({ host: '127.0.0.1', port: simulator.port, ca: simulator.server.certificatePem });
  try {
    const feature = client.features.find((f) => f.originator === 'dev.workcell' && f.category === 'modules')!.identifier;
    return (await client.get(feature, 'LoadedItems')) as string[];
  } finally {
    client.close();
  }
}

const bag = (id: string, position: string) => ({ id, container: 'bag', position, material: { cells: 4e9, viability: 92, volumeMl: 40 } });
const shared = (timeScale = 3600, seed = 42) => ({ world: new SimulationWorld(), clock: new ScaledClock(timeScale), seed });

describe('simulated modules driven through the module interface over SiLA 2', () => {
  it('carry one bag from intake through the separator to the electroporator, keeping its identity', async () => {
    const s = shared();
    s.world.introduce(bag('BAG-P001', 'intake'));
    const arm = await module('arm-1', 'robot-arm', s);
    const separator = await module('sep-1', 'cell-separator', s);
    const electroporator = await module('ep-1', 'electroporator', s);

    const pick = await arm.driver.execute('transfer', { itemId: 'BAG-P001', from: 'intake', to: 'sep-1.port' }, { idempotencyKey: 'P001/to-sep' });
    expect(await pick.result()).toEqual({ scannedAtPick: 'BAG-P001', scannedAtPlace: 'BAG-P001' });

    const wash = await separator.driver.execute('wash', { inputVolume: 40, targetVolume: 20 }, { idempotencyKey: 'P001/wash', itemId: 'BAG-P001' });
    expect(wash.token).toMatchObject({ module: 'sep-1', capability: 'wash', protocol: 'sila2' });
    const fractions: number[] = [];
    for await (const p of wash.progress()) fractions.push(p.fraction);
    const washed = await wash.result();
    expect(fractions.at(-1)).toBe(1);
    expect(washed.recovery).toBeGreaterThan(70);
    expect(washed.totalCells).toBeCloseTo((4e9 * (washed.recovery as number)) / 100, -3);
    expect(washed.viability).toBeLessThan(92);
    expect(washed.outputVolume).toBe(20);

    await (await arm.driver.execute('transfer', { itemId: 'BAG-P001', from: 'sep-1.port', to: 'ep-1.port' }, { idempotencyKey: 'P001/to-ep' })).result();
    // the electroporator shows the bag the robot just placed, before any command of its own
    expect(await loadedItems(electroporator.simulator)).toEqual(['BAG-P001']);
    expect(await loadedItems(separator.simulator)).toEqual([]);
    const pulse = await (await electroporator.driver.execute('electroporate', { voltage: 500, cellDensity: 5e7, volume: 20, payload: 'mRNA', payloadAmount: 50 }, { idempotencyKey: 'P001/ep', itemId: 'BAG-P001' })).result();
    expect(pulse.viability).toBeLessThan(washed.viability as number);
    expect(s.world.item('BAG-P001')).toMatchObject({ position: 'ep-1.port', material: { viability: pulse.viability, volumeMl: 20 } });
  });

  it('refuses a second bag into an occupied module and a command for a bag it does not hold', async () => {
    const s = shared();
    s.world.introduce(bag('BAG-A', 'sep-1.port'));
    s.world.introduce(bag('BAG-B', 'intake'));
    const arm = await module('arm-1', 'robot-arm', s);
    const separator = await module('sep-1', 'cell-separator', s);
    const occupied = await (await arm.driver.execute('transfer', { itemId: 'BAG-B', from: 'intake', to: 'sep-1.port' }, { idempotencyKey: 'B/to-sep' })).result().catch((e) => e);
    expect(occupied).toBeInstanceOf(ModuleError);
    expect(occupied).toMatchObject({ kind: 'defined', code: 'ModuleOccupied' });
    expect(s.world.item('BAG-B')!.position).toBe('intake');
    const wrong = await (await separator.driver.execute('wash', { inputVolume: 40 }, { idempotencyKey: 'B/wash', itemId: 'BAG-B' })).result().catch((e) => e);
    expect(wrong).toMatchObject({ kind: 'defined', code: 'WrongItem', message: 'sep-1: sep-1 holds BAG-A, not BAG-B' });
  });

  it('loses more viability at higher voltage', async () => {
    const s = shared();
    s.world.introduce(bag('LOW', 'ep-1.port'));
    s.world.introduce(bag('HIGH', 'ep-2.port'));
    const low = await module('ep-1', 'electroporator', s);
    const high = await module('ep-2', 'electroporator', s);
    const params = (voltage: number) => ({ voltage, cellDensity: 5e7, volume: 2, payload: 'mRNA', payloadAmount: 20 });
    const [a, b] = await Promise.all([
      low.driver.execute('electroporate', params(300), { idempotencyKey: 'low', itemId: 'LOW' }).then((e) => e.result()),
      high.driver.execute('electroporate', params(1000), { idempotencyKey: 'high', itemId: 'HIGH' }).then((e) => e.result()),
    ]);
    expect((a.viability as number) - (b.viability as number)).toBeGreaterThan(10);
  });

  it('gives identical results for the same seed', async () => {
    const washOnce = async (seed: number) => {
      const s = shared(3600, seed);
      s.world.introduce(bag('BAG', 'sep-1.port'));
      const separator = await module('sep-1', 'cell-separator', s);
      const result = await (await separator.driver.execute('wash', { inputVolume: 40 }, { idempotencyKey: 'k', itemId: 'BAG' })).result();
      await separator.driver.close();
      await separator.simulator.stop();
      running.pop();
      return result;
    };
    const [first, second, other] = [await washOnce(7), await washOnce(7), await washOnce(8)];
    expect(second).toEqual(first);
    expect(other).not.toEqual(first);
  });

  it('never starts a command twice for the same idempotency key', async () => {
    const s = shared();
    s.world.introduce(bag('BAG', 'sep-1.port'));
    const separator = await module('sep-1', 'cell-separator', s);
    const [a, b] = await Promise.all([
      separator.driver.execute('wash', { inputVolume: 40 }, { idempotencyKey: 'once', itemId: 'BAG' }),
      separator.driver.execute('wash', { inputVolume: 40 }, { idempotencyKey: 'once', itemId: 'BAG' }),
    ]);
    expect(b.token).toEqual(a.token);
    await a.result();
  });

  it('holds and resumes a running command, and reports its states', async () => {
    const s = shared(600);
    s.world.introduce(bag('BAG', 'sep-1.port'));
    const separator = await module('sep-1', 'cell-separator', s);
    const states: ModuleState[] = [];
    const stop = await separator.driver.watchState((state) => states.push(state));
    const wash = await separator.driver.execute('wash', { inputVolume: 100 }, { idempotencyKey: 'hold', itemId: 'BAG' });
    await new Promise((r) => setTimeout(r, 300));
    await separator.driver.hold();
    await new Promise((r) => setTimeout(r, 200));
    await separator.driver.resume();
    await wash.result();
    await new Promise((r) => setTimeout(r, 100));
    stop();
    expect(states).toEqual(expect.arrayContaining(['idle', 'running', 'held']));
    expect(states.indexOf('held')).toBeGreaterThan(states.indexOf('running'));
    expect(states.at(-1)).toBe('idle');
  });

  it('streams telemetry with units while a command runs', async () => {
    const s = shared(600);
    s.world.introduce(bag('BAG', 'sep-1.port'));
    const separator = await module('sep-1', 'cell-separator', s);
    const samples: TelemetrySample[] = [];
    const stop = await separator.driver.watchTelemetry((sample) => samples.push(sample));
    await (await separator.driver.execute('wash', { inputVolume: 40 }, { idempotencyKey: 't', itemId: 'BAG' })).result();
    await new Promise((r) => setTimeout(r, 100));
    stop();
    const temperatures = samples.filter((x) => x.channel === 'chamberTemperature' && x.value !== 0);
    expect(temperatures.length).toBeGreaterThan(3);
    expect(temperatures[0]).toMatchObject({ module: 'sep-1', unit: 'degC' });
    expect(temperatures.every((x) => x.value > 19 && x.value < 23)).toBe(true);
  });
});

describe('injected faults', () => {
  const withFault = async (kind: string, fault: FaultSpec, id = 'sep-1', timeScale = 3600) => {
    const s = shared(timeScale);
    return { s, m: await module(id, kind, s, { faults: [fault] }) };
  };

  it('fails a command with a defined execution error and shows the module faulted', async () => {
    const { s, m } = await withFault('cell-separator', { kind: 'error', error: 'HardwareFault', message: 'centrifuge imbalance', on: 1 });
    s.world.introduce(bag('BAG', 'sep-1.port'));
    const error = await (await m.driver.execute('wash', { inputVolume: 40 }, { idempotencyKey: 'f', itemId: 'BAG' })).result().catch((e) => e);
    expect(error).toMatchObject({ kind: 'defined', code: 'HardwareFault', message: 'sep-1: centrifuge imbalance' });
    const states: ModuleState[] = [];
    const stop = await m.driver.watchState((state) => states.push(state));
    await new Promise((r) => setTimeout(r, 100));
    stop();
    expect(states.at(-1)).toBe('faulted');
    const refused = await (await m.driver.execute('wash', { inputVolume: 40 }, { idempotencyKey: 'f-refused', itemId: 'BAG' })).result().catch((e) => e);
    expect(refused.message).toBe('sep-1: sep-1 is faulted; clear it before new work');
    await m.driver.clear();
    // the fault fired on the first execution only
    expect(await (await m.driver.execute('wash', { inputVolume: 40 }, { idempotencyKey: 'f2', itemId: 'BAG' })).result()).toHaveProperty('recovery');
  });

  it('makes a command hang until it is aborted', async () => {
    const { s, m } = await withFault('cell-separator', { kind: 'hang', capability: 'wash' });
    s.world.introduce(bag('BAG', 'sep-1.port'));
    const wash = await m.driver.execute('wash', { inputVolume: 40 }, { idempotencyKey: 'h', itemId: 'BAG' });
    const outcome = wash.result().then(() => 'finished', (e) => e);
    await new Promise((r) => setTimeout(r, 800));
    expect(await Promise.race([outcome, 'still running'])).toBe('still running');
    await m.driver.abort();
    expect(await outcome).toMatchObject({ kind: 'device', message: 'sep-1: wash was aborted' });
  });

  it('has the robot scanner misread, which stops the transfer', async () => {
    const { s, m } = await withFault('robot-arm', { kind: 'wrong-scan', on: 1 }, 'arm-1');
    s.world.introduce(bag('BAG-P003', 'intake'));
    const error = await (await m.driver.execute('transfer', { itemId: 'BAG-P003', from: 'intake', to: 'sep-1.port' }, { idempotencyKey: 'w' })).result().catch((e) => e);
    expect(error).toMatchObject({ kind: 'defined', code: 'WrongItem' });
    expect(error.message).toMatch(/expected item BAG-P003 at intake, scanned 'MISREAD-\d+'/);
    expect(s.world.item('BAG-P003')!.position).toBe('intake');
  });

  it('drops the connection mid-command: the client reconnects and re-attaches, and the command ran once', async () => {
    const { s, m } = await withFault('cell-separator', { kind: 'disconnect', downSeconds: 1.5, on: 1 }, 'sep-1', 600);
    s.world.introduce(bag('BAG', 'sep-1.port'));
    const wash = await m.driver.execute('wash', { inputVolume: 40 }, { idempotencyKey: 'dc', itemId: 'BAG' });
    const started = Date.now();
    const result = await wash.result();
    expect(Date.now() - started).toBeGreaterThan(1400);
    expect(result.outputVolume).toBe(20);
    expect(m.simulator.executions).toBe(1);
  });

  it('lets a sensor drift out of range', async () => {
    const { s, m } = await withFault('cell-separator', { kind: 'sensor-drift', channel: 'chamberTemperature', perHour: 6 }, 'sep-1', 36000);
    s.world.introduce(bag('BAG', 'sep-1.port'));
    const samples: number[] = [];
    const stop = await m.driver.watchTelemetry((x) => x.channel === 'chamberTemperature' && x.value !== 0 && samples.push(x.value));
    await (await m.driver.execute('wash', { inputVolume: 400 }, { idempotencyKey: 'd', itemId: 'BAG' })).result();
    await new Promise((r) => setTimeout(r, 100));
    stop();
    expect(samples.at(-1)! - samples[0]!).toBeGreaterThan(5);
  });

  it('grows colonies on a settle plate in grade A, which otherwise stays clean', async () => {
    const plates = async (colonies?: number) => {
      const s = shared(3_600_000);
      const handler = await module('sph-1', 'settle-plate-handler', s, { locationGrades: { 'sp-isolator': 'A' }, faults: colonies === undefined ? [] : [{ kind: 'colonies', count: colonies, capability: 'read-colonies' }] });
      const run = async (capability: string, parameters: Record<string, string | number>) => (await handler.driver.execute(capability, parameters, { idempotencyKey: `${capability}-${colonies}` })).result();
      await run('place-plate', { location: 'sp-isolator', plateId: 'PL-1' });
      await s.clock.sleep(4 * 3_600_000);
      const retrieved = await run('retrieve-plate', { location: 'sp-isolator', plateId: 'PL-1' });
      expect(retrieved.exposure).toBeGreaterThanOrEqual(3.9);
      await run('incubate', { plateId: 'PL-1' });
      return (await run('read-colonies', { plateId: 'PL-1' })).colonies;
    };
    expect(await plates()).toBe(0);
    expect(await plates(3)).toBe(3);
  });
});
