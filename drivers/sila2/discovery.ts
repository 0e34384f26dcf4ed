/**
 * SiLA 2 server discovery over DNS-SD: service type `_sila._tcp.local.`, instance `<server uuid>._sila._tcp.local.`,
 * TXT records version, server_name, description and ca0..caN (the PEM CA, one line each).
 *
 * Production uses multicast DNS (RFC 6762, 224.0.0.251:5353). The transport is a parameter so that
 * tests run a responder on a loopback port and query it by unicast (RFC 6762 section 5.5), never
 * sending a packet off the machine.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { hostname } from 'node:os';
import dnsPacket, { type Answer } from 'dns-packet';
import { WALL_CLOCK, type Clock } from '../clock.ts';

export const SILA_SERVICE_TYPE = '_sila._tcp.local';
const MDNS_GROUP = '224.0.0.251';
const MDNS_PORT = 5353;

export type DiscoveryTransport = { kind: 'multicast'; interfaceAddress?: string } | { kind: 'unicast'; host: string; port: number };

export interface AnnouncedServer {
  uuid: string;
  name: string;
  description: string;
  version: string;
  host: string;
  port: number;
  certificatePem?: string;
}

export interface DiscoveredServer {
  uuid: string;
  name: string;
  description: string;
  version: string;
  /** The SRV target host name. */
  target: string;
  /** The address from the A record when one came with the answer, else the target. */
  host: string;
  port: number;
  /** The CA the server publishes; trust it only when the caller explicitly allows it. */
  ca?: string;
}

export class SilaAnnouncement {
  constructor(private readonly socket: Socket, readonly address: { host: string; port: number }) {}

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

function instanceName(uuid: string): string {
  return `${uuid}.${SILA_SERVICE_TYPE}`;
}

function records(server: AnnouncedServer): { answers: Answer[]; additionals: Answer[] } {
  const instance = instanceName(server.uuid);
  const target = `${hostname()}.local`;
  const txt = [`version=${server.version}`, `server_name=${server.name}`, `description=${server.description}`];
  if (server.certificatePem) {
    server.certificatePem
      .trim()
      .split('\n')
      .forEach((line, i) => txt.push(`ca${i}=${line}`));
  }
  return {
    answers: [{ type: 'PTR', name: SILA_SERVICE_TYPE, ttl: 120, data: instance }],
    additionals: [
      { type: 'SRV', name: instance, ttl: 120, data: { port: server.port, target, priority: 0, weight: 0 } },
      { type: 'TXT', name: instance, ttl: 120, data: txt.map((t) => Buffer.from(t, 'utf8')) },
      { type: 'A', name: target, ttl: 120, data: server.host === '0.0.0.0' || server.host.includes(':') ? '127.0.0.1' : server.host },
    ],
  };
}

/** Answers DNS-SD queries for one server until closed; with multicast, also announces it at start. */
export async function announce(server: AnnouncedServer, transport: DiscoveryTransport = { kind: 'multicast' }): Promise<SilaAnnouncement> {
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  const { answers, additionals } = records(server);
  const respond = (query: dnsPacket.Packet, to: RemoteInfo) => {
    const asked = (query.questions ?? []).some(
      (q) => ((q.type === 'PTR' || (q.type as string) === 'ANY') && q.name.toLowerCase() === SILA_SERVICE_TYPE) || q.name.toLowerCase() === instanceName(server.uuid).toLowerCase(),
    );
    if (!asked) return;
    const response = dnsPacket.encode({ type: 'response', id: query.id ?? 0, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: transport.kind === 'unicast' || to.port !== MDNS_PORT ? query.questions : [], answers, additionals });
    // RFC 6762 6.7: a query not from port 5353 gets a unicast answer; others a multicast one.
    const multicastReply = transport.kind === 'multicast' && to.port === MDNS_PORT;
    socket.send(response, multicastReply ? MDNS_PORT : to.port, multicastReply ? MDNS_GROUP : to.address);
  };
  socket.on('message', (message, from) => {
    try {
      const packet = dnsPacket.decode(message);
      if (packet.type === 'query') respond(packet, from);
    } catch {
      // not DNS: ignore
    }
  });
  const bound = await new Promise<{ host: string; port: number }>((resolve, reject) => {
    socket.once('error', reject);
    if (transport.kind === 'unicast') {
      socket.bind(transport.port, transport.host, () => resolve({ host: transport.host, port: socket.address().port }));
    } else {
      socket.bind(MDNS_PORT, () => {
        socket.addMembership(MDNS_GROUP, transport.interfaceAddress);
        socket.setMulticastTTL(255);
        resolve({ host: MDNS_GROUP, port: MDNS_PORT });
      });
    }
  });
  if (transport.kind === 'multicast') {
    socket.send(dnsPacket.encode({ type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER, answers, additionals }), MDNS_PORT, MDNS_GROUP);
  }
  return new SilaAnnouncement(socket, bound);
}

/** Asks for SiLA servers and collects the answers that arrive within `timeoutMs`. */
export async function discover(options: { timeoutMs?: number; transport?: DiscoveryTransport; clock?: Clock } = {}): Promise<DiscoveredServer[]> {
  const transport = options.transport ?? { kind: 'multicast' };
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  const seen: Answer[] = [];
  socket.on('message', (message) => {
    try {
      const packet = dnsPacket.decode(message);
      if (packet.type === 'response') seen.push(...(packet.answers ?? []), ...(packet.additionals ?? []));
    } catch {
      // not DNS: ignore
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, transport.kind === 'unicast' ? transport.host : undefined, () => resolve()));
  const query = dnsPacket.encode({ type: 'query', id: 0, flags: 0, questions: [{ type: 'PTR', name: SILA_SERVICE_TYPE }] });
  if (transport.kind === 'unicast') socket.send(query, transport.port, transport.host);
  else socket.send(query, MDNS_PORT, MDNS_GROUP);
  await (options.clock ?? WALL_CLOCK).sleep(options.timeoutMs ?? 1000);
  socket.close();
  return collect(seen);
}

function collect(answers: Answer[]): DiscoveredServer[] {
  const servers: DiscoveredServer[] = [];
  const instances = new Set(answers.flatMap((a) => (a.type === 'PTR' && a.name.toLowerCase() === SILA_SERVICE_TYPE ? [String(a.data)] : [])));
  for (const instance of instances) {
    const srv = answers.find((a) => a.type === 'SRV' && a.name === instance);
    if (!srv || srv.type !== 'SRV') continue;
    const txtRecord = answers.find((a) => a.type === 'TXT' && a.name === instance);
    const txt: Record<string, string> = {};
    const lines = txtRecord && txtRecord.type === 'TXT' ? (Array.isArray(txtRecord.data) ? txtRecord.data : [txtRecord.data]) : [];
    for (const line of lines) {
      const text = line.toString();
      const eq = text.indexOf('=');
      if (eq > 0) txt[text.slice(0, eq)] = text.slice(eq + 1);
    }
    const caLines = Object.keys(txt)
      .filter((k) => /^ca\d+$/.test(k))
      .sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)))
      .map((k) => txt[k]!);
    const address = answers.find((a) => a.type === 'A' && a.name === srv.data.target);
    servers.push({
      uuid: instance.slice(0, instance.length - SILA_SERVICE_TYPE.length - 1),
      name: txt.server_name ?? '',
      description: txt.description ?? '',
      version: txt.version ?? '',
      target: srv.data.target,
      host: address && address.type === 'A' ? address.data : srv.data.target,
      port: srv.data.port,
      ca: caLines.length ? `${caLines.join('\n')}\n` : undefined,
    });
  }
  return servers;
}
