/** The simulated workcell of a layout: in-process for tests, or its own process as real devices are. */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkcell } from '../../config/validate.ts';
import { plannedPorts, startSimulation } from '../../modules/simulators/workcell-simulation.ts';
import { connectModule } from '../../drivers/connect.ts';
import type { ModuleState } from '../../config/state-model.ts';
import type { ModuleDriver } from '../../drivers/module.ts';
import { startCli } from '../support/background-cli.ts';
import { runCli } from '../support/cli.ts';
import { layoutCopy, layoutPrintedBy } from '../support/simulators.ts';
import { TWO_LANE_SILA } from '../support/orchestration.ts';

const ENV = { WORKCELL_OPCUA_PASSWORD: 'simulated-password' };

/** Each module's endpoint as a layout file names it. */
function endpointsOf(file: string): Map<string, string> {
  const { layout } = loadWorkcell(file);
  return new Map(layout.model.layout.modules.map((m) => [m.id, m.connection.sila2 ? `${m.connection.sila2.host}:${m.connection.sila2.port}` : m.connection.opcua!.endpoint]));
}

const firstState = async (driver: Awaited<ReturnType<typeof connectModule>>) =>
  new Promise<ModuleState>((resolve) => {
    let stop: (() => void) | undefined;
    void driver.watchState((state) => {
      stop?.();
      resolve(state);
    }).then((s) => (stop = s));
  });

describe('a simulated workcell', () => {
  it('runs every module of the two-lane layout on its endpoint, reachable through the module interface', async () => {
    const { dir, file } = layoutCopy();
    const { layout } = loadWorkcell(file);
    const declared = endpointsOf(file);
    // Ports the OS picks; the model the drivers connect from is told where they are.
    const simulation = await startSimulation(layout.model, file, { timeScale: 3600, seed: 5, environment: ENV, portBase: 0 });
    const drivers: ModuleDriver[] = [];
    try {
      expect(simulation.modules.map((m) => m.id)).toEqual([...declared.keys()]);
      for (const m of simulation.modules) {
        expect(m.endpoint).not.toBe(declared.get(m.id));
        expect(m.endpoint).toMatch(m.protocol === 'sila2' ? /^127\.0\.0\.1:\d+$/ : /^opc\.tcp:\/\/127\.0\.0\.1:\d+$/);
      }
      expect(new Set(simulation.modules.map((m) => m.endpoint)).size).toBe(simulation.modules.length);
      for (const id of layout.model.modules.keys()) drivers.push(await connectModule(layout.model, dir, id, ENV));
      expect(drivers.map((d) => d.id)).toEqual(['sep-1', 'sep-2', 'ep-1', 'bio-1', 'bio-2', 'arm-1', 'sph-1']);
      for (const driver of drivers) expect(await firstState(driver)).toBe('idle');

      simulation.world.introduce({ id: 'BAG-P001', container: 'bag', position: 'intake', material: { cells: 4e9, viability: 92, volumeMl: 40 } });
      const byId = (id: string) => drivers.find((d) => d.id === id)!;
      const move = (from: string, to: string, key: string) => byId('arm-1').execute('transfer', { itemId: 'BAG-P001', from, to }, { idempotencyKey: key }).then((e) => e.result());
      await move('intake', 'sep-1.port', 'to-sep');
      const washed = await (await byId('sep-1').execute('wash', { inputVolume: 40, targetVolume: 20 }, { idempotencyKey: 'wash', itemId: 'BAG-P001' })).result();
      expect(washed.outputVolume).toBe(20);
      await move('sep-1.port', 'bio-1.port', 'to-bio');
      const seeded = await (await byId('bio-1').execute('seed', { cells: 1e9, volume: 500 }, { idempotencyKey: 'seed', itemId: 'BAG-P001' })).result();
      expect(seeded.cellDensity).toBeGreaterThan(0);
      expect(simulation.world.item('BAG-P001')!.position).toBe('bio-1.port');
    } finally {
      await Promise.all(drivers.map((d) => d.close()));
      await simulation.stop();
    }
  }, 120_000);

  it('runs in its own process: a command keeps running when its client goes away, and is re-attached', async () => {
    const { dir, file } = layoutCopy();
    const sim = await startCli(['sim', file, '--time-scale', '600', '--seed', '3', '--port-base', '0'], { cwd: dir, env: ENV, readyWhen: /^Ready\./m });
    try {
      const listening = layoutPrintedBy(sim.output(), dir);
      expect(dirname(listening)).toBe(join(dir, '.workcell'));
      // The copy is the layout with the endpoints listened on, its file references still reaching the same files.
      for (const [id, endpoint] of endpointsOf(listening)) expect(sim.output()).toMatch(new RegExp(`^  ${id} +\\w+ +${endpoint.replaceAll('.', '\\.')}( |$)`, 'm'));
      expect(sim.output()).toMatch(/^  sep-1 +sila2 +127\.0\.0\.1:\d+  CA \.workcell\/pki\/sep-1-ca\.pem$/m);
      expect(readFileSync(listening, 'utf8')).toContain('tls: { ca: pki/sep-1-ca.pem }');
      const { layout } = loadWorkcell(listening);
      // the settle-plate handler needs no bag: expose a plate, leave, come back
      const first = await connectModule(layout.model, dirname(listening), 'sph-1', ENV);
      const placing = await first.execute('place-plate', { location: 'sp-isolator-left', plateId: 'PL-7' }, { idempotencyKey: 'place' });
      const token = placing.token;
      await first.close();
      const second = await connectModule(layout.model, dirname(listening), 'sph-1', ENV);
      const result = await (await second.reattach(token)).result();
      expect(String(result.exposureStart)).toMatch(/^\d{4}-\d{2}-\d{2}T/);
      await second.close();
    } finally {
      sim.child.kill('SIGTERM');
      expect(await sim.exited).toBe(0);
      expect(sim.output()).toContain('Simulators stopped.');
    }
  }, 120_000);

  it('injects the faults of a YAML file into the simulator process', async () => {
    // The layout without its bioreactors: the fault is the settle-plate handler's, and no OPC UA server need start.
    const { dir, file } = layoutCopy(TWO_LANE_SILA);
    writeFileSync(join(dir, 'faults.yaml'), 'faults:\n  sph-1:\n    - { kind: colonies, count: 7, capability: read-colonies, on: 1 }\n');
    const sim = await startCli(['sim', file, '--time-scale', '360000', '--faults', join(dir, 'faults.yaml'), '--port-base', '0'], { cwd: dir, env: ENV, readyWhen: /^Ready\./m });
    try {
      const listening = layoutPrintedBy(sim.output(), dir);
      const { layout } = loadWorkcell(listening);
      const handler = await connectModule(layout.model, dirname(listening), 'sph-1', ENV);
      const run = async (capability: string, parameters: Record<string, string>) => (await handler.execute(capability, parameters, { idempotencyKey: capability })).result();
      await run('place-plate', { location: 'sp-isolator-right', plateId: 'PL-9' });
      await run('retrieve-plate', { location: 'sp-isolator-right', plateId: 'PL-9' });
      await run('incubate', { plateId: 'PL-9' });
      expect((await run('read-colonies', { plateId: 'PL-9' })).colonies).toBe(7);
      await handler.close();
    } finally {
      sim.child.kill('SIGTERM');
      await sim.exited;
    }
  }, 120_000);

  it('refuses a faults file with the position of the mistake', async () => {
    const { dir, file } = layoutCopy();
    writeFileSync(join(dir, 'faults.yaml'), 'faults:\n  sep-1:\n    - { kind: meltdown }\n');
    const result = await runCli(['sim', file, '--faults', join(dir, 'faults.yaml')], { env: ENV });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/faults\.yaml:3:15: expected one of error, ([\w-]+, )*hang, ([\w-]+, )*sensor-drift, disconnect; got 'meltdown'/);
  });

  it('refuses a faults file naming a module, capability or channel the layout lacks, with positions and suggestions', async () => {
    const { dir, file } = layoutCopy();
    writeFileSync(
      join(dir, 'faults.yaml'),
      [
        'faults:',
        '  sep-1:',
        '    - { kind: error, error: HardwareFault, capability: wash, on: 1 }',
        '  sep-9:',
        '    - { kind: hang, on: 1 }',
        '  sph-2:',
        '    - { kind: colonies, count: 3 }',
        '  arm-1:',
        '    - { kind: hang, capability: electroporate }',
        '  bio-1:',
        '    - { kind: sensor-drift, channel: temprature, perHour: 0.5 }',
        '',
      ].join('\n'),
    );
    for (const command of [['sim', file], ['run', file, '--schedule', 'schedules/demo.yaml', '--patients', '1', '--sim', '--db', join(dir, 'x.db')]]) {
      const result = await runCli([...command, '--faults', join(dir, 'faults.yaml')], { env: ENV });
      expect(result.status).toBe(1);
      const lines = result.stderr.split('\n');
      expect(lines).toContain(`${join(dir, 'faults.yaml')}:4:3: unknown module 'sep-9'; the layout two-lane has: sep-1, sep-2, ep-1, bio-1, bio-2, arm-1, sph-1`);
      expect(lines).toContain(`${join(dir, 'faults.yaml')}:6:3: unknown module 'sph-2'; did you mean 'sph-1'?`);
      expect(lines).toContain(`${join(dir, 'faults.yaml')}:9:33: module 'arm-1' (robot-arm) has no capability 'electroporate'; it has: transfer, scan`);
      expect(lines).toContain(`${join(dir, 'faults.yaml')}:11:38: module 'bio-1' (rocking-bioreactor) has no telemetry channel 'temprature'; did you mean 'temperature'?`);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('plans module i of the layout on port N+i with --port-base N, or on a port the OS picks with 0', () => {
    const { layout } = loadWorkcell('layouts/two-lane.yaml');
    expect(Object.fromEntries(plannedPorts(layout.model, 21000))).toEqual({ 'sep-1': 21000, 'sep-2': 21001, 'ep-1': 21002, 'bio-1': 21003, 'bio-2': 21004, 'arm-1': 21005, 'sph-1': 21006 });
    expect(new Set(plannedPorts(layout.model, 0).values())).toEqual(new Set([0]));
    expect(() => plannedPorts(layout.model, 65530)).toThrow('--port-base 65530: the layout has 7 modules, so the highest port base is 65529');
  });

  it('refuses a port base that is not a port', async () => {
    const { file } = layoutCopy();
    for (const bad of ['-1', '1.5', 'x', '65530']) {
      const result = await runCli(['sim', file, '--port-base', bad], { env: ENV });
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/--port-base/);
    }
  });
});
