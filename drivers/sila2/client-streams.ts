/**
 * Server streams on the client: followed through reconnections (a server restart, a dropped network)
 * until the server ends them, and ended with the server's SiLA error when it sends one mid-stream.
 */
import * as grpc from '@grpc/grpc-js';
import { SilaConnectionError, fromGrpcError } from './errors.ts';
import { methodDefinition } from './grpc-methods.ts';
import type { RpcDefinition } from './proto.ts';
import type { Clock, Timer } from '../clock.ts';

/** A call that can be ended from outside: with an error, or because its time is up. */
export interface InFlight {
  failure?: Error;
  /** When the call's time is up (ms since the epoch): a unary call's default deadline, a stream's grace to end. */
  deadline?: number;
  fail(error: Error): void;
  expire(): void;
}

export interface StreamSettings {
  /** The clock of reconnection backoff and give-up limits (the client's; the wall clock by default). */
  clock: Clock;
  /** How long to keep reopening after the connection was lost. */
  giveUpAfterMs: number;
  /** A known transport failure (an untrusted certificate after a restart): ends the stream at once with it. */
  transportFailure(): Error | undefined;
  /** Registers a stream that a transport failure found meanwhile ends from outside; and unregisters it. */
  track(stream: InFlight): void;
  untrack(stream: InFlight): void;
  /** Makes sure the streams' deadlines (the grace to end) are being watched. */
  sweepSoon(): void;
}

/** How long a stream whose last message was seen may take to be ended by the server before it is cancelled. */
export const STREAM_END_GRACE_MS = 2000;

type OnMessage = (message: any) => void | 'stop' | 'last';

/**
 * When the server may end a stream: `true` whenever it likes (a finished command's intermediate
 * responses); `'after-last'` only once the last message expected came (an Info stream ends after the
 * final status: one that ends before it was cut by a server going away, and is reopened); `false`
 * never (an observable property).
 */
export type StreamEnd = boolean | 'after-last';

/**
 * Follows a server stream, handing each message to `onMessage`, and re-opens it when the connection
 * drops until the server ends it (`endsNormally`), `onMessage` returns 'stop', or the caller aborts.
 * `onMessage` returns 'last' for the final message it expects (an execution's final status): the server
 * is then given a moment to end the stream before it is cancelled. A SiLA error from the server
 * rejects with that typed error. On the path of every observable command, so a class rather than
 * closures made per stream.
 */
export function followStream(
  client: grpc.Client,
  settings: StreamSettings,
  rpc: RpcDefinition,
  request: object,
  metadata: grpc.Metadata,
  signal: AbortSignal | undefined,
  endsNormally: StreamEnd,
  onMessage: OnMessage,
): Promise<void> {
  return new Promise<void>((resolve, reject) => new FollowedStream(client, settings, rpc, request, metadata, signal, endsNormally, onMessage, resolve, reject).open());
}

class FollowedStream implements InFlight {
  private call: grpc.ClientReadableStream<any> | undefined;
  /** Whether the current call is over (ended, failed, cancelled); a reopened call starts afresh. */
  private settled = true;
  /** Set once the last message expected has come: by then the server is to have ended the stream. */
  deadline: number | undefined;
  private lostAt: number | undefined;
  private backoff = 100;
  private sawLast = false;
  /** Whether any message came, and when the last one did. */
  private answered = false;
  private lastAnswer = 0;
  /** While reopening after a loss: gives up once the server has been away for the reconnect limit. */
  private giveUp: Timer | undefined;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly client: grpc.Client,
    private readonly settings: StreamSettings,
    private readonly rpc: RpcDefinition,
    private readonly request: object,
    private readonly metadata: grpc.Metadata,
    private readonly signal: AbortSignal | undefined,
    private readonly endsNormally: StreamEnd,
    private readonly onMessage: OnMessage,
    private readonly resolve: () => void,
    private readonly reject: (error: Error) => void,
  ) {
    if (signal) this.onAbort = () => this.finish(undefined, true);
  }

  open(): void {
    if (this.signal?.aborted) return this.resolve();
    const known = this.settings.transportFailure();
    if (known) return this.reject(known);
    const definition = methodDefinition(this.rpc);
    let call: grpc.ClientReadableStream<any>;
    try {
      call = this.client.makeServerStreamRequest(this.rpc.path, definition.requestSerialize, definition.responseDeserialize, this.request, this.metadata, {});
    } catch (error) {
      // The client was closed while the stream waited to reopen.
      return this.reject(new SilaConnectionError(`the stream ${this.rpc.name} ended: ${(error as Error).message}`, grpc.status.CANCELLED));
    }
    this.call = call;
    this.settled = false;
    this.settings.track(this);
    // A call waiting for a server that is not there (waitForReady) fails no other way. A stream whose
    // server answers at once (an Info stream, a property) that has not answered yet waits for it too.
    if (!this.giveUp && (this.lostAt !== undefined || (this.endsNormally !== true && !this.answered))) {
      const clock = this.settings.clock;
      const since = this.lostAt ?? clock.now();
      this.giveUp = clock.setTimeout(() => {
        this.giveUp = undefined;
        if (this.call === call && !this.answeredSince(since)) this.finish(new SilaConnectionError(`the server has been unreachable for ${Math.round((clock.now() - since) / 1000)} s (${this.rpc.name})`, grpc.status.UNAVAILABLE), true);
      }, Math.max(0, since + this.settings.giveUpAfterMs - clock.now()));
    }
    if (this.onAbort) this.signal!.addEventListener('abort', this.onAbort, { once: true });
    call.on('data', (message) => {
      if (this.settled || this.call !== call) return;
      this.lostAt = undefined;
      this.answered = true;
      this.lastAnswer = this.settings.clock.now();
      this.settings.clock.clearTimeout(this.giveUp);
      this.giveUp = undefined;
      this.backoff = 100;
      const next = this.onMessage(message);
      if (next === 'last') this.sawLast = true;
      if (next === 'stop') this.finish(undefined, true);
      else if (next === 'last' && this.deadline === undefined) {
        this.deadline = this.settings.clock.now() + STREAM_END_GRACE_MS;
        this.settings.sweepSoon();
      }
    });
    call.on('end', () => {
      if (this.call !== call || !this.finishCall()) return;
      if (this.signal?.aborted || this.endsNormally === true || (this.endsNormally === 'after-last' && this.sawLast)) return this.resolve();
      // Ended before it should (the server went away gracefully): reopened, within the reconnect limit.
      this.reopenLater(() => this.reject(new SilaConnectionError(`the server ended ${this.rpc.name} early and has not taken it up again`, grpc.status.UNAVAILABLE)));
    });
    call.on('error', (error: grpc.ServiceError) => {
      if (this.call !== call || !this.finishCall()) return;
      this.failed(error);
    });
  }

  private answeredSince(since: number): boolean {
    return this.answered && this.lastAnswer >= since;
  }

  /** A transport failure found while the stream waits: it ends with that error. */
  fail(error: Error): void {
    this.finish(error, true);
  }

  /** The server did not end the stream in time after its last message: cancelled, quietly. */
  expire(): void {
    this.finish(undefined, true);
  }

  private failed(error: grpc.ServiceError): void {
    const mapped = fromGrpcError(error);
    if (this.signal?.aborted) return this.resolve();
    if (!(mapped instanceof SilaConnectionError) || mapped.code === grpc.status.DEADLINE_EXCEEDED) return this.reject(mapped);
    const known = this.settings.transportFailure();
    if (known) return this.reject(known);
    this.reopenLater(() => this.reject(mapped));
  }

  /** Opens the stream again after a backoff, unless the server has been away past the reconnect limit. */
  private reopenLater(giveUp: () => void): void {
    const clock = this.settings.clock;
    this.lostAt ??= clock.now();
    if (clock.now() - this.lostAt > this.settings.giveUpAfterMs) return giveUp();
    clock.setTimeout(() => this.open(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, 2000);
  }

  /** Marks the current call over; false when it was over already. */
  private finishCall(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.lostAt === undefined || this.signal?.aborted) {
      this.settings.clock.clearTimeout(this.giveUp);
      this.giveUp = undefined;
    }
    this.deadline = undefined;
    this.settings.untrack(this);
    if (this.onAbort) this.signal!.removeEventListener('abort', this.onAbort);
    return true;
  }

  /** Ends the stream from this side: cancelled, with `error` or quietly. */
  private finish(error: Error | undefined, cancel: boolean): void {
    if (!this.finishCall()) return;
    if (cancel) this.call?.cancel();
    if (error) this.reject(error);
    else this.resolve();
  }
}

/** The messages of followStream() as an async iterable, for callers that iterate. */
export async function* streamMessages(follow: (signal: AbortSignal, onMessage: (message: any) => void | 'last') => Promise<void>, signal: AbortSignal | undefined, isLast?: (message: any) => boolean): AsyncGenerator<any> {
  const mailbox = new Mailbox<any>();
  const stop = new AbortController();
  const forward = () => stop.abort();
  signal?.addEventListener('abort', forward, { once: true });
  if (signal?.aborted) stop.abort();
  const following = follow(stop.signal, (message) => {
    mailbox.push(message);
    return isLast?.(message) ? 'last' : undefined;
  }).then(
    () => mailbox.close(),
    (error) => mailbox.close(error),
  );
  try {
    yield* mailbox.drain();
  } finally {
    signal?.removeEventListener('abort', forward);
    stop.abort();
    await following;
  }
}

/** Producers push, one consumer drains with for-await; closing ends the drain, or fails it with an error. */
export class Mailbox<T> {
  private readonly items: T[] = [];
  private closed = false;
  private failure: unknown;
  private wake: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    this.notify();
  }

  close(failure?: unknown): void {
    this.closed = true;
    this.failure = failure;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *drain(): AsyncGenerator<T> {
    while (true) {
      if (this.items.length) {
        yield this.items.shift()!;
        continue;
      }
      if (this.closed) {
        if (this.failure) throw this.failure;
        return;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
