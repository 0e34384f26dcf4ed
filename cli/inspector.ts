/**
 * `--inspect`: XState inspection events to a @statelyai/inspect WebSocket relay. The package's own
 * WebSocket adapter retries forever on a timer that stop() cannot cancel, so a run with nothing
 * listening never exited; this connection retries too, but stops when told and keeps no process alive.
 */
import { createInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import WebSocket from 'ws';
import type { InspectionEvent } from 'xstate';
import { WALL_CLOCK, type Timer } from '../drivers/clock.ts';

const DEFAULT_INSPECT_URL = 'ws://127.0.0.1:8080';
const RETRY_MS = 5_000;
/** Events kept for an inspector that has not connected yet (the package's own default). */
const MAX_DEFERRED = 200;
/** Nesting kept when a snapshot is serialized (the package's own default). */
const DEPTH_LIMIT = 10;

export interface RunInspector {
  inspect(event: InspectionEvent): void;
  /** Sends what is still queued, then closes and cancels any retry; says so if nothing ever listened. */
  stop(): Promise<void>;
}

/** How to get an inspector listening at `url`: the package's relay, which opens the Stately inspector in a browser. */
function inspectorHowTo(url: string): string {
  const port = new URL(url).port || '80';
  return `start the @statelyai/inspect relay first: node -e "import('@statelyai/inspect/server').then((m) => m.createInspectorServer({ port: ${port} }))" (it opens the inspector at http://localhost:${port} in your browser), then run again with --inspect`;
}

export function startInspector(url: string = DEFAULT_INSPECT_URL, say: (line: string) => void): RunInspector {
  say(`XState inspection events go to ${url} (@statelyai/inspect WebSocket)`);
  const connection = new InspectorConnection(url, say);
  const inspector = createInspector(connection);
  connection.start();
  return {
    inspect: (event) => inspector.inspect.next?.(event),
    async stop() {
      await connection.stop();
      if (!connection.everConnected) say(`Nothing listened at ${url}: no inspection events were delivered. To watch a run, ${inspectorHowTo(url)}.`);
    },
  };
}

class InspectorConnection {
  everConnected = false;
  private socket: WebSocket | undefined;
  private retry: Timer | undefined;
  private stopped = false;
  private toldNobodyListens = false;
  private readonly deferred: string[] = [];

  constructor(private readonly url: string, private readonly say: (line: string) => void) {}

  start(): void {
    if (this.stopped) return;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.on('open', () => {
      if (!this.everConnected) this.say(`Inspector connected at ${this.url}.`);
      this.everConnected = true;
      for (const message of this.deferred.splice(0)) socket.send(message);
    });
    socket.on('error', () => {
      if (this.everConnected || this.toldNobodyListens) return;
      this.toldNobodyListens = true;
      this.say(`Nothing listens at ${this.url} yet (retrying every ${RETRY_MS / 1000} s). To watch this run, ${inspectorHowTo(this.url)}.`);
    });
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      if (this.stopped) return;
      // A connection to a relay on this machine: real time, and no reason to keep the process alive.
      this.retry = WALL_CLOCK.setTimeout(() => this.start(), RETRY_MS, { background: true });
    });
  }

  send(event: StatelyInspectionEvent): void {
    if (this.stopped) return;
    const message = serialize(event);
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(message);
    else {
      this.deferred.push(message);
      if (this.deferred.length > MAX_DEFERRED) this.deferred.shift();
    }
  }

  async stop(): Promise<void> {
    // The package hands events over on the next timer tick: let those still on their way arrive.
    await WALL_CLOCK.sleep(10);
    this.stopped = true;
    WALL_CLOCK.clearTimeout(this.retry);
    const socket = this.socket;
    if (!socket) return;
    if (socket.readyState !== WebSocket.OPEN) {
      socket.terminate();
      return;
    }
    await new Promise<void>((resolve) => {
      const force = WALL_CLOCK.setTimeout(() => socket.terminate(), 2_000);
      socket.once('close', () => {
        WALL_CLOCK.clearTimeout(force);
        resolve();
      });
      socket.close();
    });
  }
}

/** JSON of an inspection event: snapshots may hold cycles, functions and deep contexts. */
function serialize(event: unknown): string {
  const path = new Set<object>();
  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === 'function' || typeof value === 'symbol') return undefined;
    if (typeof value === 'bigint') return value.toString();
    if (value === null || typeof value !== 'object') return value;
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return walk((value as { toJSON(): unknown }).toJSON(), depth);
    if (path.has(value)) return '[Circular]';
    if (depth >= DEPTH_LIMIT) return '[...]';
    path.add(value);
    const out = Array.isArray(value) ? value.map((v) => walk(v, depth + 1) ?? null) : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, depth + 1)]).filter(([, v]) => v !== undefined));
    path.delete(value);
    return out;
  };
  return JSON.stringify(walk(event, 0));
}
