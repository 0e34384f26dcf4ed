/**
 * The client's connection: unary calls and server streams over one grpc-js channel, watched so that a
 * transport failure while it runs (a server restarted with a certificate the client does not trust)
 * ends waiting calls at once with what is wrong, instead of a missed deadline 30 s later.
 */
import * as grpc from '@grpc/grpc-js';
import { SilaConnectionError, fromGrpcError } from './errors.ts';
import { followStream, streamMessages, type InFlight, type StreamEnd, type StreamSettings } from './client-streams.ts';
import { methodDefinition } from './grpc-methods.ts';
import { preflight, TransportSecurityError, UntrustedCertificateError, type TransportOptions } from './preflight.ts';
import type { RpcDefinition } from './proto.ts';
import { wallNow, type Clock, type Timer } from '../clock.ts';

/** A known transport failure is looked at again at most this often (the server may have its old certificate back). */
const DIAGNOSIS_INTERVAL_MS = 1000;
/** How often calls under the default deadline (and streams left lingering) are checked for having run out of time. */
const DEADLINE_SWEEP_MS = 500;

export interface UnaryOptions {
  /** The call's own deadline, exact; without it the client's default applies, checked once a second. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Read a SiLA error as a BinaryTransferError. */
  binaryTransfer?: boolean;
}

export class ClientTransport {
  /** Calls in flight, to be ended with an error (a transport failure found while they wait). */
  private readonly inFlight = new Set<InFlight>();
  private failure: Error | undefined;
  private lastDiagnosis = 0;
  private diagnosing: Promise<void> | undefined;
  private closed = false;
  private readonly streamSettings: StreamSettings;
  private sweeper: Timer | undefined;

  constructor(
    readonly grpcClient: grpc.Client,
    private readonly options: TransportOptions,
    reconnectTimeoutMs: number,
    /** The deadline of calls that give none. */
    readonly defaultTimeoutMs: number,
    /** The clock of deadlines, sweeps and reconnection: the wall clock, unless a test runs the client on another. */
    readonly clock: Clock,
  ) {
    this.streamSettings = {
      clock,
      giveUpAfterMs: reconnectTimeoutMs,
      transportFailure: () => this.failure,
      track: (stream) => this.inFlight.add(stream),
      untrack: (stream) => this.inFlight.delete(stream),
      sweepSoon: () => this.sweepSoon(),
    };
  }

  close(): void {
    this.closed = true;
    this.clock.clearTimeout(this.sweeper);
    this.grpcClient.close();
  }

  unary(rpc: RpcDefinition, request: object, metadata: grpc.Metadata, options: UnaryOptions): Promise<any> {
    if (this.failure) return this.checkTransport().then(() => this.sendUnary(rpc, request, metadata, options));
    return this.sendUnary(rpc, request, metadata, options);
  }

  private sendUnary(rpc: RpcDefinition, request: object, metadata: grpc.Metadata, options: UnaryOptions): Promise<any> {
    return new Promise((resolve, reject) => new PendingUnary(this, rpc, request, metadata, options, resolve, reject));
  }

  /** @internal for PendingUnary and FollowedStream: a call to watch, and to end when its deadline passes. */
  callStarted(call: InFlight): void {
    this.inFlight.add(call);
    this.sweepSoon();
  }

  /**
   * One timer for all calls under the default deadline and all streams left to end, instead of a timer
   * (and a grpc-timeout header) for each: on the path of every call.
   */
  sweepSoon(): void {
    if (this.sweeper || this.closed) return;
    this.sweeper = this.clock.repeat(() => this.sweep(), DEADLINE_SWEEP_MS, { background: true });
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const call of this.inFlight) if (call.deadline !== undefined && call.deadline <= now) call.expire();
  }

  /** @internal the error of a call under the default deadline that ran out of it. */
  deadlineError(): SilaConnectionError {
    return new SilaConnectionError(`the call did not complete before its deadline (no answer within ${this.defaultTimeoutMs / 1000} s)`, grpc.status.DEADLINE_EXCEEDED);
  }

  /** @internal for PendingUnary: the error a failed call ends with. */
  callEnded(call: InFlight, error: grpc.ServiceError | null, binaryTransfer: boolean | undefined): Error | undefined {
    this.inFlight.delete(call);
    return error ? (call.failure ?? this.failure ?? fromGrpcError(error, binaryTransfer)) : undefined;
  }

  /** Follows a server stream through reconnections (see followStream). */
  follow(rpc: RpcDefinition, request: object, metadata: grpc.Metadata, signal: AbortSignal | undefined, endsNormally: StreamEnd, onMessage: (message: any) => void | 'stop' | 'last'): Promise<void> {
    return followStream(this.grpcClient, this.streamSettings, rpc, request, metadata, signal, endsNormally, onMessage);
  }

  /** The messages of follow() as an async iterable. */
  stream(rpc: RpcDefinition, request: object, metadata: grpc.Metadata, signal: AbortSignal | undefined, endsNormally: StreamEnd, isLast?: (message: any) => boolean): AsyncGenerator<any> {
    return streamMessages((stop, onMessage) => this.follow(rpc, request, metadata, stop, endsNormally, onMessage), signal, isLast);
  }

  /** Starts watching the channel: when it keeps failing, the client's own handshake finds out why. */
  watch(): void {
    const channel = this.grpcClient.getChannel();
    const watch = (state: grpc.connectivityState) =>
      channel.watchConnectivityState(state, Infinity, () => {
        if (this.closed) return;
        const now = channel.getConnectivityState(false);
        if (now === grpc.connectivityState.TRANSIENT_FAILURE && this.clock.now() - this.lastDiagnosis > DIAGNOSIS_INTERVAL_MS) void this.diagnose();
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
          for (const call of [...this.inFlight]) call.fail(error);
        },
      )
      .finally(() => {
        this.lastDiagnosis = this.clock.now();
        this.diagnosing = undefined;
      });
    return this.diagnosing;
  }

  private async checkTransport(): Promise<void> {
    if (this.clock.now() - this.lastDiagnosis > DIAGNOSIS_INTERVAL_MS) await this.diagnose();
    if (this.failure) throw this.failure;
  }
}

const NO_CALL_OPTIONS: grpc.CallOptions = Object.freeze({});

/**
 * One unary call. A class rather than closures: this runs on every call, and each named closure costs
 * (under tsx every one is named at run time).
 */
class PendingUnary implements InFlight {
  failure: Error | undefined;
  deadline: number | undefined;
  private readonly call: grpc.ClientUnaryCall;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly transport: ClientTransport,
    rpc: RpcDefinition,
    request: object,
    metadata: grpc.Metadata,
    private readonly options: UnaryOptions,
    resolve: (response: any) => void,
    reject: (error: Error) => void,
  ) {
    const definition = methodDefinition(rpc);
    if (options.timeoutMs === undefined) this.deadline = transport.clock.now() + transport.defaultTimeoutMs;
    // A gRPC deadline is a wall-clock instant (grpc-js sends what is left of it to the server).
    const callOptions = options.timeoutMs === undefined ? NO_CALL_OPTIONS : { deadline: wallNow() + options.timeoutMs };
    this.call = transport.grpcClient.makeUnaryRequest(rpc.path, definition.requestSerialize, definition.responseDeserialize, request, metadata, callOptions, (error, response) => {
      if (this.onAbort) options.signal!.removeEventListener('abort', this.onAbort);
      const failed = transport.callEnded(this, error, options.binaryTransfer);
      if (failed) reject(failed);
      else resolve(response);
    });
    transport.callStarted(this);
    if (options.signal) {
      this.onAbort = () => this.call.cancel();
      options.signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  fail(error: Error): void {
    this.failure = error;
    this.call.cancel();
  }

  expire(): void {
    this.fail(this.transport.deadlineError());
  }
}
