/**
 * Server streams on the client: followed through reconnections (a server restart, a dropped network)
 * until the server ends them, and ended with the server's SiLA error when it sends one mid-stream.
 */
import * as grpc from '@grpc/grpc-js';
import { SilaConnectionError, fromGrpcError } from './errors.ts';
import { methodDefinition } from './grpc-methods.ts';
import type { RpcDefinition } from './proto.ts';

export interface StreamSettings {
  /** How long to keep reopening after the connection was lost. */
  giveUpAfterMs: number;
  /** A known transport failure (an untrusted certificate after a restart): ends the stream at once with it. */
  transportFailure(): Error | undefined;
  /** Registers a way to end the stream from outside with an error; returns the unregistration. */
  track(fail: (error: Error) => void): () => void;
}

/**
 * Follows a server stream, handing each message to `onMessage`, and re-opens it when the connection
 * drops until the server ends it (`endsNormally`), `onMessage` returns 'stop', or the caller aborts.
 * A SiLA error from the server rejects with that typed error. Event-driven: this is on the path of
 * every observable command.
 */
export function followStream(
  client: grpc.Client,
  settings: StreamSettings,
  rpc: RpcDefinition,
  request: object,
  metadata: grpc.Metadata,
  signal: AbortSignal | undefined,
  endsNormally: boolean,
  onMessage: (message: any) => void | 'stop',
): Promise<void> {
  const definition = methodDefinition(rpc);
  let lostAt: number | undefined;
  let backoff = 100;
  return new Promise<void>((resolve, reject) => {
    const open = () => {
      if (signal?.aborted) return resolve();
      const known = settings.transportFailure();
      if (known) return reject(known);
      let call: grpc.ClientReadableStream<any>;
      try {
        call = client.makeServerStreamRequest(rpc.path, definition.requestSerialize, definition.responseDeserialize, request, metadata, {});
      } catch (error) {
        // The client was closed while the stream waited to reopen.
        return reject(new SilaConnectionError(`the stream ${rpc.name} ended: ${(error as Error).message}`, grpc.status.CANCELLED));
      }
      // A stream the server has ended is never cancelled: needless resets look like an HTTP/2
      // rapid-reset attack to servers under load, which then drop the whole connection.
      let settled = false;
      const untrack = settings.track((error) => finish(() => {
        call.cancel();
        reject(error);
      }));
      const cancel = () => {
        call.cancel();
        resolve();
      };
      const onAbort = () => finish(cancel);
      const finish = (then: () => void) => {
        if (settled) return;
        settled = true;
        untrack();
        signal?.removeEventListener('abort', onAbort);
        then();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      call.on('data', (message) => {
        if (settled) return;
        lostAt = undefined;
        backoff = 100;
        if (onMessage(message) === 'stop') finish(cancel);
      });
      call.on('end', () =>
        finish(() => {
          if (endsNormally || signal?.aborted) resolve();
          else setTimeout(open, backoff);
        }),
      );
      call.on('error', (error: grpc.ServiceError) =>
        finish(() => {
          const mapped = fromGrpcError(error);
          if (signal?.aborted) return resolve();
          if (!(mapped instanceof SilaConnectionError) || mapped.code === grpc.status.DEADLINE_EXCEEDED) return reject(mapped);
          const known = settings.transportFailure();
          if (known) return reject(known);
          lostAt ??= Date.now();
          if (Date.now() - lostAt > settings.giveUpAfterMs) return reject(mapped);
          setTimeout(open, backoff);
          backoff = Math.min(backoff * 2, 2000);
        }),
      );
    };
    open();
  });
}

/** The messages of followStream() as an async iterable, for callers that iterate. */
export async function* streamMessages(follow: (signal: AbortSignal, onMessage: (message: any) => void) => Promise<void>, signal: AbortSignal | undefined): AsyncGenerator<any> {
  const mailbox = new Mailbox<any>();
  const stop = new AbortController();
  const forward = () => stop.abort();
  signal?.addEventListener('abort', forward, { once: true });
  if (signal?.aborted) stop.abort();
  const following = follow(stop.signal, (message) => mailbox.push(message)).then(
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
