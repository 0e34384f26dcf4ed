import { createSocket } from 'node:dgram';
import makeMdns from 'multicast-dns';
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

  it('answers a question for its instance name, and none for another service', async () => {
    const querier = makeMdns({ socket: await boundSocket(), port: 0, multicast: false });
    const answers: string[] = [];
    querier.on('response', (packet) => answers.push(...[...packet.answers, ...packet.additionals].map((a) => `${a.type} ${a.name}`)));
    const responder = { port: announcement.address.port, address: '127.0.0.1' };
    querier.query({ id: 7, questions: [{ type: 'PTR', name: '_http._tcp.local' }] }, responder);
    querier.query({ id: 8, questions: [{ type: 'SRV', name: `${bench.server.identity.uuid}._sila._tcp.local` }] }, responder);
    await new Promise((r) => setTimeout(r, 200));
    querier.destroy();
    expect(answers).toContain(`SRV ${bench.server.identity.uuid}._sila._tcp.local`);
    expect(answers).toContain(`TXT ${bench.server.identity.uuid}._sila._tcp.local`);
    expect(answers.filter((a) => a.startsWith('PTR'))).toEqual(['PTR _sila._tcp.local']);
  });

  it('keeps answering after a packet that is not DNS', async () => {
    const socket = await boundSocket();
    await new Promise((resolve) => socket.send(Buffer.from('not a DNS packet'), announcement.address.port, '127.0.0.1', resolve));
    socket.close();
    const found = await discover({ timeoutMs: 300, transport: { kind: 'unicast', host: '127.0.0.1', port: announcement.address.port } });
    expect(found.map((s) => s.uuid)).toEqual([bench.server.identity.uuid]);
  });
});

async function boundSocket() {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}
