/**
 * SiLA 2 server discovery over DNS-SD: service type `_sila._tcp.local.`, instance `<server uuid>._sila._tcp.local.`,
 * TXT records version, server_name, description and ca0..caN (the PEM CA, one line each).
 *
 * Production uses multicast DNS (RFC 6762, 224.0.0.251:5353) through multicast-dns. The transport is a parameter so that
 * tests run a responder on a loopback port and query it by unicast (RFC 6762 section 5.5), never
 * sending a packet off the machine.
 */
import { createSocket } from 'node:dgram';
import { hostname } from 'node:os';
import makeMdns from 'multicast-dns';
import { WALL_CLOCK, type Clock } from '../clock.ts';

type Mdns = makeMdns.MulticastDNS;
type Answer = makeMdns.ResponsePacket['answers'][number];

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
  constructor(private readonly mdns: Mdns, readonly address: { host: string; port: number }) {}

  close(): Promise<void> {
    return new Promise((resolve) => this.mdns.destroy(() => resolve()));
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

/**
 * mDNS over a socket this module binds: on `host:port` (a unicast responder, or a querier on an
 * ephemeral port, whose answers come back to it by unicast as RFC 6762 5.1 describes for one-shot queries).
 */
async function onSocket(host: string | undefined, port: number): Promise<{ mdns: Mdns; port: number }> {
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  // Port 0 tells multicast-dns the socket is bound already: it neither binds nor joins the group.
  return { mdns: makeMdns({ socket, port: 0, multicast: false }), port: socket.address().port };
}

/** The responder on the mDNS group: bound to 5353 on every address, member of the group on `interfaceAddress` or every interface. */
function onGroup(interfaceAddress: string | undefined): Promise<Mdns> {
  const mdns = makeMdns({ bind: '0.0.0.0', interface: interfaceAddress, port: MDNS_PORT, ip: MDNS_GROUP });
  return new Promise((resolve, reject) => {
    mdns.once('error', reject);
    mdns.once('ready', () => {
      mdns.off('error', reject);
      resolve(mdns);
    });
  });
}

/** Answers DNS-SD queries for one server until closed; with multicast, also announces it at start. */
export async function announce(server: AnnouncedServer, transport: DiscoveryTransport = { kind: 'multicast' }): Promise<SilaAnnouncement> {
  const { answers, additionals } = records(server);
  const unicast = transport.kind === 'unicast' ? { host: transport.host, ...(await onSocket(transport.host, transport.port)) } : undefined;
  const mdns = unicast?.mdns ?? (await onGroup(transport.kind === 'multicast' ? transport.interfaceAddress : undefined));
  mdns.on('query', (query, from) => {
    const asked = query.questions.some(
      (q) => ((q.type === 'PTR' || (q.type as string) === 'ANY') && q.name.toLowerCase() === SILA_SERVICE_TYPE) || q.name.toLowerCase() === instanceName(server.uuid).toLowerCase(),
    );
    if (!asked) return;
    // RFC 6762 6.7: a query not from port 5353 gets a unicast answer that repeats its questions; others a multicast one.
    const multicastReply = !unicast && from.port === MDNS_PORT;
    mdns.respond(
      { id: query.id ?? 0, questions: multicastReply ? [] : query.questions, answers, additionals },
      multicastReply ? { port: MDNS_PORT, address: MDNS_GROUP } : { port: from.port, address: from.address },
    );
  });
  if (!unicast) mdns.respond({ answers, additionals }, { port: MDNS_PORT, address: MDNS_GROUP });
  return new SilaAnnouncement(mdns, unicast ? { host: unicast.host, port: unicast.port } : { host: MDNS_GROUP, port: MDNS_PORT });
}

/** Asks for SiLA servers and collects the answers that arrive within `timeoutMs`. */
export async function discover(options: { timeoutMs?: number; transport?: DiscoveryTransport; clock?: Clock } = {}): Promise<DiscoveredServer[]> {
  const transport = options.transport ?? { kind: 'multicast' };
  const { mdns } = await onSocket(transport.kind === 'unicast' ? transport.host : undefined, 0);
  const seen: Answer[] = [];
  mdns.on('response', (packet) => seen.push(...packet.answers, ...packet.additionals));
  mdns.query({ id: 0, questions: [{ type: 'PTR', name: SILA_SERVICE_TYPE }] }, transport.kind === 'unicast' ? { port: transport.port, address: transport.host } : { port: MDNS_PORT, address: MDNS_GROUP });
  await (options.clock ?? WALL_CLOCK).sleep(options.timeoutMs ?? 1000);
  await new Promise<void>((resolve) => mdns.destroy(() => resolve()));
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
