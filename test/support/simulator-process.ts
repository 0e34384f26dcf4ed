/** A layout's simulators in a process of their own (`workcell sim`), as real devices outlive an orchestrator. */
import { dirname } from 'node:path';
import { onTestFinished } from 'vitest';
import { startCli } from './background-cli.ts';

export const SIMULATOR_ENV = { WORKCELL_OPCUA_PASSWORD: 'crash-test-password' };

/** Runs `work` while the simulators of `layout` run, with each `BAG@POSITION` delivered in turn. */
export async function withSimulators<T>(layout: string, options: { deliveries: string[]; timeScale: number }, work: () => Promise<T>): Promise<T> {
  const deliver = options.deliveries.flatMap((d) => ['--deliver', d]);
  const sim = await startCli(['sim', layout, '--time-scale', String(options.timeScale), '--seed', '11', ...deliver], { cwd: dirname(layout), env: SIMULATOR_ENV, readyWhen: /Ready\./ });
  // A test that times out never reaches the finally below: the simulators must not outlive it.
  onTestFinished(() => void sim.child.kill('SIGKILL'));
  try {
    return await work();
  } finally {
    sim.child.kill('SIGTERM');
    await sim.exited;
  }
}
