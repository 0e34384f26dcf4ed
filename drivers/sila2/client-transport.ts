/**
 * The client's connection: unary calls and server streams over one grpc-js channel, watched so that a
 * transport failure while it runs (a server restarted with a certificate the client does not trust)
 * ends waiting calls at once with what is wrong, instead of a missed deadline 30 s later.
 */
import * as grpc from '@grpc/grpc-js';
import { fromGrpcError } from './errors.ts';
import { followStream, streamMessages, type StreamSettings } from './client-streams.ts';
import { methodDefinition } from './grpc-methods.ts';
import { preflight, TransportSecurityError, UntrustedCertificateError, type TransportOptions } from './preflight.ts';
import type { RpcDefinition } from './proto.ts';

/** A known transport failure is looked at again at most this often (the server may have its old certificate back). */
const DIAGNOSIS_INTERVAL_MS = 1000;

export interface UnaryOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Read a SiLA error as a BinaryTransferError. */
  binaryTransfer?: boolean;
}

export class ClientTransport {
  /** Ends a call in flight with an error (a transport failure found while it waits). */
  private readonly inFlight = new Set<(error: Error) => void>();
  private failure: Error | undefined;
  private lastDiagnosis = 0;
  private diagnosing: Promise<void> | undefined;
  private closed = false;
  private readonly streamSettings: StreamSettings;

  constructor(
    readonly grpcClient: grpc.Client,
    private readonly options: TransportOptions,
    reconnectTimeoutMs: number,
  ) {
    this.streamSettings = {
      giveUpAfterMs: reconnectTimeoutMs,
      transportFailure: () => this.failure,
      track: (fail) => {
        this.inFlight.add(fail);
        return () => this.inFlight.delete(fail);
      },
    };
  }

  close(): void {
    this.closed = true;
    this.grpcClient.close();
  }

  unary(rpc: RpcDefinition, request: object, metadata: grpc.Metadata, options: UnaryOptions): Promise<any> {
    if (this.failure) return this.checkTransport().then(() => this.sendUnary(rpc, request, metadata, options));
    return this.sendUnary(rpc, request, metadata, options);
  }

  private sendUnary(rpc: RpcDefinition, request: object, metadata: grpc.Metadata, options: UnaryOptions): Promise<any> {
    const definition = methodDefinition(rpc);
    return new Promise((resolve, reject) => {
      let failure: Error | undefined;
      const fail = (error: Error) => {
        failure = error;
        call.cancel();
      };
      const abort = () => call.cancel();
      const call = this.grpcClient.makeUnaryRequest(rpc.path, definition.requestSerialize, definition.responseDeserialize, request, metadata, { deadline: Date.now() + options.timeoutMs }, (error, response) => {
        this.inFlight.delete(fail);
        options.signal?.removeEventListener('abort', abort);
        if (error) reject(failure ?? this.failure ?? fromGrpcError(error, options.binaryTransfer));
        else resolve(response);
      });
      this.inFlight.add(fail);
      options.signal?.addEventListener('abort', abort, { once: true });
    });
  }

  /** Follows a server stream through reconnections (see followStream). */
  follow(rpc: RpcDefinition, request: object, metadata: grpc.Metadata, signal: AbortSignal | undefined, endsNormally: boolean, onMessage: (message: any) => void | 'stop'): Promise<void> {
    return followStream(this.grpcClient, this.streamSettings, rpc, request, metadata, signal, endsNormally, onMessage);
  }

  /** The messages of follow() as an async iterable. */
  stream(rpc: RpcDefinition, request: object, metadata: grpc.Metadata, signal: AbortSignal | undefined, endsNormally: boolean): AsyncGenerator<any> {
    return streamMessages((stop, onMessage) => this.follow(rpc, request, metadata, stop, endsNormally, onMessage), signal);
  }

  /** Starts watching the channel: when it keeps failing, the client's own handshake finds out why. */
  watch(): void {
    const channel = this.grpcClient.getChannel();
    const watch = (state: grpc.connectivityState) =>
      channel.watchConnectivityState(state, Infinity, () => {
        if (this.closed) return;
        const now = channel.getConnectivityState(false);
        if (now === grpc.connectivityState.TRANSIENT_FAILURE && Date.now() - this.lastDiagnosis > DIAGNOSIS_INTERVAL_MS) void this.diagnose();
        if (now === grpc.connectivityState.READY) this.failure = undefined;
        if (now !== grpc.connectivityState.SHUTDOWN) watch(now);
      });
    watch(channel.getConnectivityState(false));
  }

  private diagnose(): Promise<void> {
    this.diagnosing ??= preflight(this.options)
      .then(
        () => {
          this.failure = undefined;
        },
        (error: unknown) => {
          // Nothing listening (a restart under way) is for the reconnection to wait out; a certificate or TLS mismatch is not.
          if (!(error instanceof UntrustedCertificateError || error instanceof TransportSecurityError)) return;
          this.failure = error;
          for (const fail of [...this.inFlight]) fail(error);
        },
      )
      .finally(() => {
        this.lastDiagnosis = Date.now();
        this.diagnosing = undefined;
      });
    return this.diagnosing;
  }

  private async checkTransport(): Promise<void> {
    if (Date.now() - this.lastDiagnosis > DIAGNOSIS_INTERVAL_MS) await this.diagnose();
    if (this.failure) throw this.failure;
  }
}
