/**
 * Simulators started by a run listen on ports the OS picks (or from --port-base), never on the layout's
 * fixed ports, so a run, a demo and the test suite never collide with each other or other programs.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkcell } from '../../config/validate.ts';
import { runCli } from '../support/cli.ts';
import { SHORT_SCHEDULE } from '../support/orchestration.ts';
import { layoutCopy } from '../support/simulators.ts';

describe('simulators of workcell run --sim', () => {
  for (const extra of [[], ['--port-base', '0']]) {
    it(`listen on ports the OS picked and print them${extra.length ? ' (--port-base 0)' : ' (by default)'}`, async () => {
      const { dir, file } = layoutCopy();
      const declared = loadWorkcell(file).layout.model.layout.modules.map((m) => (m.connection.sila2 ? `127.0.0.1:${m.connection.sila2.port}` : m.connection.opcua!.endpoint));
      const result = await runCli(['run', file, '--schedule', SHORT_SCHEDULE, '--patients', '1', '--sim', '--time-scale', '3600', '--db', join(dir, 'records.db'), ...extra], { cwd: dir, timeoutMs: 120_000 });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      const listed = [...result.stdout.matchAll(/^ {2}(\S+) +(sila2|opcua) +(\S+)/gm)].map((m) => ({ id: m[1], endpoint: m[3]! }));
      expect(listed.map((m) => m.id)).toEqual(['sep-1', 'sep-2', 'ep-1', 'bio-1', 'bio-2', 'arm-1', 'sph-1']);
      for (const { endpoint } of listed) expect(declared).not.toContain(endpoint);
      expect(result.stdout).toContain('Simulators in this process, on ports the OS picked (--port-base N for N, N+1, ... in layout order):');
    }, 180_000);
  }

  it('refuses --port-base without --sim: a run connects where its layout says', async () => {
    const { dir, file } = layoutCopy();
    const result = await runCli(['run', file, '--schedule', SHORT_SCHEDULE, '--patients', '1', '--port-base', '20000', '--db', join(dir, 'records.db')], { cwd: dir });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--port-base is for the simulators of --sim');
  });
});
