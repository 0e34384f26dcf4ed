import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScaledClock } from '../../drivers/clock.ts';
import { loadCatalogue } from '../../config/catalogue.ts';
import { createLadsSimulator } from '../../modules/simulators/lads-simulator.ts';
import { SilaModuleSimulator } from '../../modules/simulators/sila-simulator.ts';
import { SimulationWorld } from '../../modules/simulators/world.ts';
import { LadsModuleDriver } from '../../drivers/opcua/lads-module-driver.ts';
import { SilaModuleDriver } from '../../drivers/sila2/module-driver.ts';
import { OpcUaDriver } from '../../drivers/opcua/client.ts';
import type { LadsServer } from '../../drivers/opcua/lads-server.ts';
import type { ModuleDriver, TelemetrySample } from '../../drivers/module.ts';
import type { FaultPlan } from '../../modules/simulators/faults.ts';

const kind = loadCatalogue().kind('rocking-bioreactor')!;
const USERS = { workcell: 'bench-password' };
// 100,000 simulated seconds per second: a week of culture in about six seconds
const TIME_SCALE = 100_000;

const bag = (id: string, position: string) => ({ id, container: 'bag', position, material: { cells: 1e9, viability: 90, volumeMl: 40 } });

let ladsServer: LadsServer;
let ladsFaults: FaultPlan;
let lads: LadsModuleDriver;
let ladsWorld: SimulationWorld;
let silaSimulator: SilaModuleSimulator;
let sila: SilaModuleDriver;
let silaWorld: SimulationWorld;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-bio-'));
  ladsWorld = new SimulationWorld();
  const created = createLadsSimulator({ moduleId: 'bio-1', kind, world: ladsWorld, clock: new ScaledClock(TIME_SCALE), seed: 11, port: 0, pkiFolder: join(dir, 'server'), users: USERS });
  ladsServer = created.server;
  ladsFaults = created.faults;
  await ladsServer.start();
  const clientPki = join(dir, 'client');
  await ladsServer.trustClientCertificate(await OpcUaDriver.applicationCertificate(clientPki));
  await OpcUaDriver.trustServerCertificate(clientPki, await ladsServer.certificate());
  lads = await LadsModuleDriver.connect('bio-1', kind, { endpoint: ladsServer.endpointUrl, pkiFolder: clientPki, user: { name: 'workcell', password: USERS.workcell } });

  // a second vendor: the same kind of bioreactor, driven over SiLA 2
  silaWorld = new SimulationWorld();
  silaSimulator = await new SilaModuleSimulator({ moduleId: 'bio-1', kind, world: silaWorld, clock: new ScaledClock(TIME_SCALE), seed: 11 }).start();
  sila = await SilaModuleDriver.connect('bio-1', kind, { host: '127.0.0.1', port: silaSimulator.port, ca: silaSimulator.server.certificatePem });
}, 60_000);

afterAll(async () => {
  await lads?.close();
  await ladsServer?.stop();
  await sila?.close();
  await silaSimulator?.stop();
});

async function expand(driver: ModuleDriver, world: SimulationWorld, itemId: string) {
  world.introduce(bag(itemId, 'bio-1.port'));
  const run = async (capability: string, parameters: Record<string, string | number>) =>
    (await driver.execute(capability, parameters, { idempotencyKey: `${itemId}/${capability}`, itemId, batchId: 'P-001', stepId: capability })).result();
  const seeded = await run('seed', { cells: 5e8, volume: 1000 });
  const cultured = await run('culture', { duration: 6, temperature: 37, co2: 5, rockingSpeed: 12, rockingAngle: 6, perfusion: 'by-density' });
  const sampled = await run('sample', { volume: 2 });
  return { seeded, cultured, sampled };
}

describe('the rocking bioreactor', () => {
  it('expands cells over days of simulated culture as a LADS device, with telemetry on the way', async () => {
    const samples: TelemetrySample[] = [];
    const stop = await lads.watchTelemetry((s) => samples.push(s));
    const { seeded, cultured, sampled } = await expand(lads, ladsWorld, 'BAG-LADS');
    stop();
    expect(seeded.cellDensity).toBeCloseTo(5e5, -3);
    expect(cultured.foldExpansion).toBeGreaterThan(8);
    expect(cultured.foldExpansion).toBeLessThan(40);
    expect(cultured.viability).toBeGreaterThan(80);
    expect(sampled.glucose).toBeLessThan(4);
    const glucose = samples.filter((s) => s.channel === 'glucose' && s.value > 0);
    expect(glucose.length).toBeGreaterThan(3);
    expect(glucose[0]!.unit).toBe('g/L');
    expect(samples.some((s) => s.channel === 'temperature' && Math.abs(s.value - 37) < 0.5)).toBe(true);
  }, 60_000);

  it('gives equivalent results over SiLA 2 (a second vendor) for the same seed', async () => {
    const overLads = ladsWorld.item('BAG-LADS')!.material;
    const { cultured } = await expand(sila, silaWorld, 'BAG-LADS');
    const overSila = silaWorld.item('BAG-LADS')!.material;
    expect(overSila.cells).toBeCloseTo(overLads.cells, -6);
    expect(cultured.foldExpansion).toBeGreaterThan(8);
  }, 60_000);

  it('reports an injected hardware fault and a wrong bag as defined errors through OPC UA', async () => {
    ladsFaults.add({ kind: 'error', error: 'HardwareFault', message: 'rocker motor stalled', capability: 'feed', on: 1 });
    const fault = await (await lads.execute('feed', { volume: 100 }, { idempotencyKey: 'feed-1', itemId: 'BAG-LADS' })).result().catch((e) => e);
    expect(fault).toMatchObject({ kind: 'defined', code: 'HardwareFault', message: 'bio-1: rocker motor stalled' });
    // a failed program leaves the LADS unit Aborted: it takes no work until it is cleared
    const refused = await lads.execute('feed', { volume: 100 }, { idempotencyKey: 'feed-refused', itemId: 'BAG-LADS' }).catch((e) => e);
    expect(refused.message).toMatch(/was refused: BadInvalidState/);
    await lads.clear();
    await new Promise((r) => setTimeout(r, 300));
    const wrong = await (await lads.execute('feed', { volume: 100 }, { idempotencyKey: 'feed-2', itemId: 'BAG-OTHER' })).result().catch((e) => e);
    expect(wrong).toMatchObject({ kind: 'defined', code: 'WrongItem', message: 'bio-1: bio-1 holds BAG-LADS, not BAG-OTHER' });
  }, 60_000);
});
