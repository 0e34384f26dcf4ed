import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { startCli } from '../support/background-cli.ts';
import { runCli } from '../support/cli.ts';
import { TWO_LANE_SILA, SHORT_SCHEDULE } from '../support/orchestration.ts';
import { layoutCopy } from '../support/simulators.ts';

interface InspectionMessage {
  type: string;
  sessionId?: string;
  snapshot?: { value?: unknown; status?: string };
  event?: { type?: string };
}

describe('workcell run --inspect', () => {
  it('streams the XState actor system (batches and modules) to a @statelyai/inspect WebSocket endpoint', async () => {
    // Stands in for the Stately inspector: any WebSocket server receiving what the inspector sends.
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const port = (server.address() as { port: number }).port;
    const messages: InspectionMessage[] = [];
    server.on('connection', (socket) => socket.on('message', (data) => messages.push(JSON.parse(String(data)) as InspectionMessage)));
    try {
      const db = join(mkdtempSync(join(tmpdir(), 'workcell-inspect-')), 'records.db');
      const layout = layoutCopy(TWO_LANE_SILA).file;
      const result = await runCli(['run', layout, '--schedule', SHORT_SCHEDULE, '--patients', '1', '--sim', '--time-scale', '3600', '--db', db, '--inspect', '--inspect-url', `ws://127.0.0.1:${port}`], { timeoutMs: 120_000 });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout).toContain(`XState inspection events go to ws://127.0.0.1:${port}`);
      const types = new Set(messages.map((m) => m.type));
      expect(types).toEqual(new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot']));
      // The batch's machine went through its schedule's steps to the end, as the inspector shows it.
      const values = messages.filter((m) => m.type === '@xstate.snapshot').map((m) => JSON.stringify(m.snapshot?.value));
      for (const state of ['"step:wash"', '"step:electroporate"', '"step:concentrate"', '"completed"']) expect(values).toContain(state);
      // Module actors report the normalized module states.
      expect(values).toContain('"running"');
    } finally {
      server.close();
    }
  }, 180_000);

  /** A port the OS handed out and nothing listens on any more. */
  async function silentUrl(): Promise<string> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return `ws://127.0.0.1:${port}`;
  }

  it('with no inspector listening: says so and how to start one, and exits when the run is done', async () => {
    const url = await silentUrl();
    const db = join(mkdtempSync(join(tmpdir(), 'workcell-inspect-')), 'records.db');
    const result = await runCli(['run', layoutCopy(TWO_LANE_SILA).file, '--schedule', SHORT_SCHEDULE, '--patients', '1', '--sim', '--time-scale', '3600', '--db', db, '--inspect', '--inspect-url', url], { timeoutMs: 120_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`Nothing listens at ${url} yet`);
    const port = new URL(url).port;
    expect(result.stdout).toContain(`createInspectorServer({ port: ${port} })`);
    expect(result.stdout).toContain(`http://localhost:${port}`);
    expect(result.stdout).toContain(`Nothing listened at ${url}: no inspection events were delivered.`);
    expect(result.stdout).toContain('1 batch(es) completed, 0 quarantined.');
  }, 180_000);

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`with no inspector listening: stops on ${signal} mid-run`, async () => {
      const url = await silentUrl();
      const dir = mkdtempSync(join(tmpdir(), 'workcell-inspect-'));
      // At time scale 60 the short process takes hours of wall time: the signal comes mid-run.
      const run = await startCli(['run', layoutCopy(TWO_LANE_SILA).file, '--schedule', SHORT_SCHEDULE, '--patients', '1', '--sim', '--time-scale', '60', '--db', join(dir, 'records.db'), '--inspect', '--inspect-url', url], { cwd: dir, readyWhen: /Nothing listens at/, timeoutMs: 90_000 });
      run.child.kill(signal);
      const stopped = await Promise.race([run.exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 20_000))]);
      if (stopped === 'still running') run.child.kill('SIGKILL');
      expect(stopped).toBe(130);
      expect(run.output()).toContain('Stopped. Every unfinished batch continues with: npx workcell resume --db');
    }, 150_000);
  }
});
