/** A simulated OPC UA device listens where its layout says, on the loopback only, on a port the OS may choose. */
import { mkdtempSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LadsServer } from '../../drivers/opcua/lads-server.ts';
import { cultureUnit } from '../support/lads-bioreactor.ts';

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('a LADS server', () => {
  it('binds its host only (127.0.0.1 refuses nothing, ::1 is another interface), on the port the OS gave it, across a restart', async () => {
    const server = new LadsServer({
      port: 0,
      host: '127.0.0.1',
      pkiFolder: join(mkdtempSync(join(tmpdir(), 'workcell-lads-bind-')), 'pki'),
      users: { operator: 'a long enough password' },
      devices: [{ name: 'Bioreactor1', manufacturer: 'Cytiva', model: 'Xuri W25', serialNumber: 'XW25-1', softwareRevision: '1', functionalUnits: [cultureUnit] }],
    });
    await server.start();
    try {
      const port = Number(new URL(server.endpointUrl.replace('opc.tcp:', 'http:')).port);
      expect(port).toBeGreaterThan(0);
      expect(await connects('127.0.0.1', port)).toBe(true);
      // Listening on every interface would accept here too.
      expect(await connects('::1', port)).toBe(false);
      await server.restart();
      expect(server.endpointUrl).toBe(`opc.tcp://127.0.0.1:${port}`);
      expect(await connects('127.0.0.1', port)).toBe(true);
    } finally {
      await server.stop();
    }
  }, 60_000);
});
