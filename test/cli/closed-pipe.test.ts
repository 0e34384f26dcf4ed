/** A reader that stops early (`workcell summary | head`): the command ends quietly, whatever it was printing. */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/workcell.js', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs the CLI with its stdout a pipe whose reading end is closed before the command writes anything. */
function runIntoClosedPipe(args: string[]): Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stderr });
    });
  });
}

describe('output into a pipe that closes early', () => {
  for (const args of [['summary'], ['sila', 'features'], ['--help']]) {
    it(`workcell ${args.join(' ')} exits quietly with status 0`, async () => {
      const result = await runIntoClosedPipe(args);
      expect(result.stderr).toBe('');
      expect(result.signal).toBeNull();
      expect(result.status).toBe(0);
    }, 90_000);
  }
});
