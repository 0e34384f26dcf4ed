/** The shipped examples are valid, fit each other, and the CLI says so the way users will run it. */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { validateFiles, errorCount, loadWorkcell, ConfigError } from '../../config/validate.ts';
import { runCli } from '../support/cli.ts';

// Faults files for the simulators sit beside their layouts (six-lane.faults.yaml): they are not layouts.
const layouts = readdirSync('layouts').filter((f) => f.endsWith('.yaml') && !f.endsWith('.faults.yaml')).map((f) => `layouts/${f}`);
const schedules = readdirSync('schedules').filter((f) => f.endsWith('.yaml')).map((f) => `schedules/${f}`);

describe('example layouts and schedules', () => {
  it('ship 2-, 4- and 6-lane layouts with shared modules, and the CAR-T, TCR-T, NK and demo schedules', () => {
    const result = validateFiles([...layouts, ...schedules]);
    const lanes = result.layouts.map((l) => l.model.laneIds().length).sort();
    expect(lanes).toEqual([2, 4, 6]);
    const four = result.layouts.find((l) => l.model.laneIds().length === 4)!.model;
    expect(four.layout.modules.filter((m) => four.isShared(m) && m.kind === 'electroporator')).toHaveLength(1);
    expect(four.layout.modules.filter((m) => m.kind === 'rocking-bioreactor').map((m) => four.lanesOf(m).length)).toEqual([1, 1, 1, 1]);
    expect(result.schedules.map((s) => s.model.id).sort()).toEqual(['cart-electroporation', 'cart-lentiviral', 'demo', 'nk-expansion', 'tcrt-electroporation']);
  });

  it.each(layouts.flatMap((l) => schedules.map((s) => [l, s])))('%s runs %s', (layout, schedule) => {
    const result = validateFiles([layout, schedule]);
    expect(result.diagnostics).toEqual([]);
  });

  it('keep the days-long CAR-T process and a demo of about an hour', () => {
    const { schedules: loaded } = loadWorkcell('layouts/two-lane.yaml', ['schedules/cart-electroporation.yaml', 'schedules/demo.yaml']);
    const [cart, demo] = loaded.map((s) => s.model.totalExpectedDuration());
    expect(cart).toBeGreaterThan(8 * 86400);
    expect(demo).toBeLessThan(2 * 3600);
  });

  it('put their simulated devices below the ephemeral port range (32768-60999), where no program is handed a port by the OS', () => {
    for (const file of layouts) {
      const { layout } = loadWorkcell(file);
      const ports = layout.model.layout.modules.map((m) => m.connection.sila2?.port ?? Number(/:(\d+)/.exec(m.connection.opcua!.endpoint.slice('opc.tcp://'.length))![1]));
      for (const port of ports) expect(port, file).toBeLessThan(32768);
      expect(new Set(ports).size).toBe(ports.length);
    }
  });

  it('declare their schema for editors', () => {
    for (const file of [...layouts, ...schedules]) {
      const kind = file.startsWith('layouts') ? 'layout' : 'schedule';
      expect(readFileSync(file, 'utf8').split('\n')[0]).toBe(`# yaml-language-server: $schema=./${kind}.schema.json`);
    }
  });

  it('loadWorkcell refuses a broken file with the diagnostics attached', () => {
    expect(() => loadWorkcell('test/fixtures/layouts/unknown-kind.yaml')).toThrow(ConfigError);
    try {
      loadWorkcell('test/fixtures/layouts/unknown-kind.yaml');
    } catch (error) {
      expect(errorCount((error as ConfigError).diagnostics)).toBe(1);
      expect((error as Error).message).toMatch(/^test\/fixtures\/layouts\/unknown-kind\.yaml:31:11: /);
    }
  });
});

describe('workcell validate (CLI)', () => {
  it('exits 0 on the examples', async () => {
    const result = await runCli(['validate', ...layouts, ...schedules]);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/3 layout\(s\), 5 schedule\(s\), 15 layout\/schedule pair\(s\) checked; 0 error\(s\)/);
    expect(result.status).toBe(0);
  });

  it('prints one FILE:LINE:COL line per error and exits 1', async () => {
    const result = await runCli(['validate', '--today', '2026-11-22', 'test/fixtures/schedules/parameter-wrong-unit.yaml', 'test/fixtures/malformed/tab.yaml']);
    expect(result.stdout.trim().split('\n')).toEqual([
      "test/fixtures/schedules/parameter-wrong-unit.yaml:16:28: parameter 'voltage': wrong unit 'mL' in '500 mL': expected a voltage in V, kV",
      'test/fixtures/malformed/tab.yaml:3:1: a tab is used for indentation; YAML expects spaces',
    ]);
    expect(result.status).toBe(1);
  });

  it('exits 2 with usage on bad arguments', async () => {
    const result = await runCli(['validate']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/usage: workcell validate FILE/);
  });

  it('workcell summary validates the examples and describes each', async () => {
    const result = await runCli(['summary']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/Layout four-lane/);
    expect(result.stdout).toMatch(/Schedule cart-electroporation v1\.0\.0/);
    expect(result.stdout).toMatch(/Schedule tcrt-electroporation v1\.0\.0/);
    expect(result.stdout).toMatch(/Schedule nk-expansion v1\.0\.0/);
    expect(result.stdout).toMatch(/All 8 file\(s\) valid; 15 layout\/schedule pair\(s\) fit\./);
  });
});
