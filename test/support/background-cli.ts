/** Runs the workcell CLI as a long-lived child process (a simulator, say) and waits for a line. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/workcell.js', import.meta.url));

export interface Background {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

export async function startCli(args: string[], options: { cwd: string; env?: Record<string, string>; readyWhen: RegExp; timeoutMs?: number }): Promise<Background> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after ${options.timeoutMs ?? 60_000} ms:\n${output}`)), options.timeoutMs ?? 60_000);
    const check = () => {
      if (options.readyWhen.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.on('close', () => reject(new Error(`exited before it was ready:\n${output}`)));
  });
  return { child, output: () => output, exited };
}
