/**
 * The "network" between clients and a simulated device: a TCP relay on the device's address that can
 * drop every connection and refuse new ones for a while, while the device behind it keeps working.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { WALL_CLOCK, type Clock } from '../../drivers/clock.ts';

export class Network {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private target = 0;
  private boundPort: number;

  /** `clock` times the drops: the wall clock by default, as a fault's downtime is wall time (faults.ts). */
  constructor(private readonly host: string, port: number, private readonly clock: Clock = WALL_CLOCK) {
    this.boundPort = port;
  }

  get port(): number {
    return this.boundPort;
  }

  async start(targetPort: number): Promise<void> {
    this.target = targetPort;
    await this.listen();
  }

  private listen(): Promise<void> {
    const server = createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: this.target });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, this.host, () => {
        this.boundPort = (server.address() as { port: number }).port;
        resolve();
      });
    });
  }

  /** Drops every connection, refuses new ones for `ms`, then accepts again on the same port. */
  async drop(ms: number): Promise<void> {
    await this.stop();
    await this.clock.sleep(ms);
    await this.listen();
  }

  stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}
