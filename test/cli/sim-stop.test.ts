/** `workcell sim` and `run` stop when told: no incubation, device stream or timer keeps the process alive after SIGTERM or Ctrl-C. */
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startCli } from '../support/background-cli.ts';
import { SHORT_SCHEDULE, TWO_LANE_SILA } from '../support/orchestration.ts';
import { layoutCopy, startSimulators } from '../support/simulators.ts';

const ENV = { WORKCELL_OPCUA_PASSWORD: 'sim-stop-password' };

describe('workcell sim', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('exits on %s while a days-long incubation runs on the settle-plate handler', async (signal) => {
    const { dir, file } = layoutCopy(TWO_LANE_SILA);
    // At time scale 1 an incubation lasts days: only a real stop ends it.
    const sim = await startCli(['sim', file, '--time-scale', '1', '--port-base', '0'], { cwd: dir, env: ENV, readyWhen: /Ready\./ });
    const endpoint = /sph-1\s+sila2\s+(\S+)/.exec(sim.output())![1]!;
    onTestFinished(() => void sim.child.kill('SIGKILL')); // even when the test times out waiting for the exit
    const incubation = await startCli(['sila', 'call', endpoint, 'SettlePlateHandler', 'Incubate', '--param', 'PlateId=SP-1', '--param', 'FirstTemperature=22.5', '--param', 'FirstDuration=72', '--param', 'SecondTemperature=32.5', '--param', 'SecondDuration=48', '--ca', join(dir, '.workcell/pki/sph-1-ca.pem')], { cwd: dir, readyWhen: /running/ });
    onTestFinished(() => void incubation.child.kill('SIGKILL'));
    sim.child.kill(signal);
    // The test's time limit is the bound: before the fix the process never exited.
    expect(await sim.exited).toBe(0);
    expect(sim.output()).toContain('Simulators stopped.');
    expect(incubation.output()).not.toMatch(/finishedSuccessfully/);
  }, 60_000);
});

describe('workcell run', () => {
  it('exits on Ctrl-C while its settle plates incubate (the device stream it follows does not keep the process)', async () => {
    const { dir, file } = layoutCopy(TWO_LANE_SILA);
    const { sim, layout } = await startSimulators(file, ['--time-scale', '3000', '--deliver', 'BAG-P-001@intake'], { cwd: dir, env: ENV });
    onTestFinished(() => void sim.child.kill('SIGKILL'));
    // Once the batch is done the run waits for its settle plates: five days of incubation on the handler.
    const run = await startCli(['run', layout, '--schedule', SHORT_SCHEDULE, '--patients', '1', '--time-scale', '3000', '--db', join(dir, 'run.db')], { cwd: dir, env: ENV, readyWhen: / completed/, timeoutMs: 90_000 });
    onTestFinished(() => void run.child.kill('SIGKILL'));
    run.child.kill('SIGINT');
    // The test's time limit is the bound: before the fix the process stayed until a second Ctrl-C.
    expect(await run.exited).toBe(130);
    expect(run.output()).toContain('Stopped with every batch done; the settle plates still incubating are finished with: npx workcell resume --db');
  }, 120_000);
});
