/** A second separator vendor, integrated only through the layout's mapping. */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadWorkcell } from '../../config/validate.ts';
import { ScaledClock } from '../../drivers/clock.ts';
import { SilaModuleSimulator } from '../../modules/simulators/sila-simulator.ts';
import { SimulationWorld } from '../../modules/simulators/world.ts';
import { SilaModuleDriver } from '../../drivers/sila2/module-driver.ts';
import type { ModuleState } from '../../config/state-model.ts';
import type { ResultValue } from '../../drivers/module.ts';

const { layout } = loadWorkcell('layouts/four-lane.yaml');
const module = layout.model.modules.get('sep-e')!;
const mapping = module.connection.sila2!.mapping!;
const kind = layout.model.catalogue.kind('cell-separator')!;
const ACME = readFileSync('modules/simulators/vendors/AcmeSeparator-v2_0.sila.xml', 'utf8');
const cleanup: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function separator(vendor: boolean, faults = false) {
  const world = new SimulationWorld();
  world.introduce({ id: 'BAG-P009', container: 'bag', position: 'sep-e.port', material: { cells: 4e9, viability: 92, volumeMl: 40 } });
  const simulator = await new SilaModuleSimulator({
    moduleId: 'sep-e', kind, world, clock: new ScaledClock(3600), seed: 21,
    vendor: vendor ? { featureXml: ACME, mapping } : undefined,
    faults: faults ? [{ kind: 'hang', capability: 'wash' }] : [],
  }).start();
  const driver = await SilaModuleDriver.connect('sep-e', kind, { host: '127.0.0.1', port: simulator.port, ca: simulator.server.certificatePem }, vendor ? mapping : undefined);
  cleanup.push(async () => {
    await driver.close();
    await simulator.stop();
  });
  return { driver, world };
}

const wash = async (driver: SilaModuleDriver, itemId = 'BAG-P009') =>
  (await driver.execute('wash', { inputVolume: 40, targetVolume: 20, cycles: 2 }, { idempotencyKey: `wash-${itemId}`, itemId })).result();

describe('a vendor feature mapped in the layout', () => {
  it('gives the same results as Workcell\'s feature for the same module and seed, in catalogue names and units', async () => {
    const acme = await separator(true);
    const workcell = await separator(false);
    const [a, b] = [await wash(acme.driver), await wash(workcell.driver)];
    for (const name of ['totalCells', 'viability', 'recovery', 'outputVolume']) expect(a[name] as number).toBeCloseTo(b[name] as number, 6);
    // the vendor answered in litres; the driver turned it back into mL
    expect(a.outputVolume).toBeCloseTo(20, 9);
    expect(acme.world.item('BAG-P009')!.material.volumeMl).toBeCloseTo(20, 9);
  });

  it('translates states, telemetry and error identifiers', async () => {
    const { driver } = await separator(true);
    const states: ModuleState[] = [];
    const stopStates = await driver.watchState((s) => states.push(s));
    const temperatures: number[] = [];
    const stopTelemetry = await driver.watchTelemetry((s) => s.channel === 'chamberTemperature' && s.value !== 0 && temperatures.push(s.value));
    await wash(driver);
    const wrong = await wash(driver, 'BAG-OTHER').catch((e) => e);
    await new Promise((r) => setTimeout(r, 100));
    stopStates();
    stopTelemetry();
    expect(states).toEqual(expect.arrayContaining(['idle', 'running']));
    expect(temperatures.length).toBeGreaterThan(3);
    expect(wrong).toMatchObject({ kind: 'defined', code: 'WrongItem', message: 'sep-e: sep-e holds BAG-P009, not BAG-OTHER' });
  });

  it('aborts through the vendor\'s own command and clears with its reset', async () => {
    const { driver } = await separator(true, true);
    const run = (await driver.execute('wash', { inputVolume: 40 }, { idempotencyKey: 'hang', itemId: 'BAG-P009' })).result().catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 300));
    await driver.abort();
    expect(await run).toMatchObject({ kind: 'device' });
    await driver.clear();
    await expect(driver.hold()).rejects.toThrow('the layout names no hold command for com.acme/separation/AcmeSeparator/v2');
  });

  it('drives the vendor\'s other mapped commands too (magnetic selection)', async () => {
    const { driver } = await separator(true);
    const results: Record<string, ResultValue> = await (await driver.execute('select', { markers: 'CD4/CD8', inputCells: 4e9, activation: true }, { idempotencyKey: 'sel', itemId: 'BAG-P009' })).result();
    expect(results.purity).toBeGreaterThan(85);
  });
});
