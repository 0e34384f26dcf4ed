/** A layout's simulators in a process of their own (`workcell sim`), as real devices outlive an orchestrator. */
import { dirname } from 'node:path';
import { onTestFinished } from 'vitest';
import { startSimulators } from './simulators.ts';

export const SIMULATOR_ENV = { WORKCELL_OPCUA_PASSWORD: 'crash-test-password' };

/**
 * Runs `work` while the simulators of `layout` run on ports the OS gave them, with each `BAG@POSITION`
 * delivered in turn; `work` gets the copy of the layout that names those endpoints, to run against.
 */
export async function withSimulators<T>(layout: string, options: { deliveries: string[]; timeScale: number }, work: (runLayout: string) => Promise<T>): Promise<T> {
  const deliver = options.deliveries.flatMap((d) => ['--deliver', d]);
  const { sim, layout: runLayout } = await startSimulators(layout, ['--time-scale', String(options.timeScale), '--seed', '11', ...deliver], { cwd: dirname(layout), env: SIMULATOR_ENV });
  // A test that times out never reaches the finally below: the simulators must not outlive it.
  onTestFinished(() => void sim.child.kill('SIGKILL'));
  try {
    return await work(runLayout);
  } finally {
    sim.child.kill('SIGTERM');
    await sim.exited;
  }
}
