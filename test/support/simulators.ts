/** Layouts for tests in directories of their own, and simulators on ports the OS gives them. */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { startCli, type Background } from './background-cli.ts';

/**
 * A copy of a layout in a directory of its own, so that the CA files and PKI its simulators write land
 * there and parallel tests never share them. Its ports are the layout's: simulators of `run --sim` take
 * theirs from the OS anyway, and `startSimulators` asks for that.
 */
export function layoutCopy(file = 'layouts/two-lane.yaml'): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-layout-'));
  const copy = join(dir, basename(file));
  copyFileSync(file, copy);
  return { dir, file: copy };
}

/** The layout copy naming the endpoints a `workcell sim --port-base` listens on, from what it printed. */
export function layoutPrintedBy(output: string, cwd: string): string {
  const printed = /^Endpoints differ from the layout's; a copy naming them: (\S+)$/m.exec(output)?.[1];
  if (!printed) throw new Error(`workcell sim printed no layout copy:\n${output}`);
  return join(cwd, printed);
}

/** `workcell sim LAYOUT --port-base 0 ...` in its own process; `layout` is the copy to run against. */
export async function startSimulators(layout: string, args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<{ sim: Background; layout: string }> {
  const sim = await startCli(['sim', layout, '--port-base', '0', ...args], { ...options, readyWhen: /^Ready\./m });
  return { sim, layout: layoutPrintedBy(sim.output(), options.cwd) };
}
