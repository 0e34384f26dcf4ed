import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { runCli } from '../support/cli.ts';
import { layoutWithFreePorts, SHORT_SCHEDULE } from '../support/orchestration.ts';

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
      const layout = await layoutWithFreePorts();
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
});
