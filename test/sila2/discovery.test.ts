import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discover } from '../../drivers/sila2/discovery.ts';
import { SilaClient } from '../../drivers/sila2/client.ts';
import type { SilaAnnouncement } from '../../drivers/sila2/discovery.ts';
import { startTestBench, type TestBench } from '../support/test-bench-server.ts';

// Discovery runs over unicast DNS on the loopback here: tests send nothing off the machine.
let bench: TestBench;
let announcement: SilaAnnouncement;

beforeAll(async () => {
  bench = await startTestBench({ description: 'Bench for discovery' });
  announcement = await bench.server.announce({ kind: 'unicast', host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await announcement?.close();
  await bench?.server.stop();
});

describe('DNS-SD discovery', () => {
  it('finds the server with its identity, address and published CA', async () => {
    const found = await discover({ timeoutMs: 300, transport: { kind: 'unicast', host: '127.0.0.1', port: announcement.address.port } });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ uuid: bench.server.identity.uuid, name: 'Test bench', description: 'Bench for discovery', version: '1.0.0', host: '127.0.0.1', port: bench.server.port });
    expect(found[0]!.ca).toBe(bench.server.certificatePem);
  });

  it('gives a CA a client can connect with when the caller chooses to trust it', async () => {
    const [server] = await discover({ timeoutMs: 300, transport: { kind: 'unicast', host: '127.0.0.1', port: announcement.address.port } });
    const client = await SilaClient.connect({ host: server!.host, port: server!.port, ca: server!.ca });
    expect(client.identity.uuid).toBe(server!.uuid);
    client.close();
  });

  it('returns nothing when nobody answers', async () => {
    expect(await discover({ timeoutMs: 100, transport: { kind: 'unicast', host: '127.0.0.1', port: 9 } })).toEqual([]);
  });
});
