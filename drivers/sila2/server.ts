/**
 * A SiLA 2 server. Features are implemented with handlers that take and return plain values; the server
 * does the SiLA part: validation, the observable command lifecycle, errors, metadata, the SiLAService
 * feature, binary transfer, and TLS (a self-signed certificate unless one is given; plain text only when
 * `insecure` is set).
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { BinaryStore } from './binary-store.ts';
import { CodecError, MAX_INLINE_BINARY, ValueCodec } from './codec.ts';
import { DefinedExecutionError, FrameworkError, SilaError, UndefinedExecutionError, ValidationError, toGrpcStatus } from './errors.ts';
import { parseFeature, readFeatureFile } from './fdl.ts';
import { featureFqi, fqi, metadataHeader, sameFqi, type Command, type Feature, type Metadata, type Parameter } from './feature.ts';
import { deriveFeatureProto, frameworkRoot, type FeatureProto, type RpcDefinition } from './proto.ts';
import { announce, type DiscoveryTransport, type SilaAnnouncement } from './discovery.ts';
import { assertKeyMatchesCertificate, createSelfSignedCertificate, type TlsMaterial } from './tls.ts';
import { BinaryRef, type SilaValue } from './values.ts';

const SILA_SERVICE_FDL = fileURLToPath(new URL('../../protos/features/SiLAService-v1_0.sila.xml', import.meta.url));

export interface ServerIdentity {
  name: string;
  type: string;
  uuid: string;
  description: string;
  version: string;
  vendorUrl: string;
}

export interface SilaServerOptions extends Partial<ServerIdentity> {
  name: string;
  type: string;
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Certificate and key; without them a self-signed certificate is made for this server's UUID. */
  tls?: TlsMaterial;
  /** Plain-text gRPC, for testing only: SiLA 2 requires TLS. */
  insecure?: boolean;
  /** How long a finished observable command can still be queried, in seconds (default: 1 day). */
  executionLifetimeSeconds?: number;
  /** How long an uploaded or downloadable binary is kept, in seconds (default: 10 min). */
  binaryLifetimeSeconds?: number;
}

export interface CallContext {
  /** Metadata the call carried, by metadata identifier. */
  metadata: Record<string, SilaValue>;
  /** Aborted when the server stops. */
  signal: AbortSignal;
}

export interface CommandContext extends CallContext {
  /** Set for observable commands. */
  executionUuid?: string;
  /** Reports progress (0..1) and, optionally, the estimated remaining time in seconds. */
  progress(fraction: number, remainingSeconds?: number): void;
  /** Sends intermediate responses to clients following the execution. */
  intermediate(responses: Record<string, SilaValue>): void;
}

export type CommandHandler = (parameters: Record<string, any>, context: CommandContext) => Promise<Record<string, SilaValue> | void> | Record<string, SilaValue> | void;
export type PropertyGetter = (context: CallContext) => SilaValue | Promise<SilaValue>;
export type PropertyStream = (context: CallContext) => AsyncIterable<SilaValue>;

/** The current value of an observable property; subscribers get it at once and on every change. */
export class ObservableProperty<T extends SilaValue = SilaValue> {
  private readonly listeners = new Set<(value: T) => void>();
  constructor(private current: T) {}

  get value(): T {
    return this.current;
  }

  set(value: T): void {
    this.current = value;
    for (const listener of this.listeners) listener(value);
  }

  subscribe(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    listener(this.current);
    return () => this.listeners.delete(listener);
  }
}

export interface FeatureImplementation {
  commands?: Record<string, CommandHandler>;
  /** Unobservable properties: a getter. Observable ones: an ObservableProperty or a function returning an async iterable. */
  properties?: Record<string, PropertyGetter | ObservableProperty<any> | PropertyStream>;
  /** For each metadata the feature defines, the fully qualified features, commands and properties that require it. */
  metadataAffects?: Record<string, string[]>;
  /**
   * For observable commands: decides, before the execution is confirmed, whether it may start at all.
   * A returned text refuses it with COMMAND_EXECUTION_NOT_ACCEPTED and that reason.
   */
  admit?: Record<string, (parameters: Record<string, any>, context: CallContext) => string | undefined>;
  /**
   * For observable commands: the client's idempotency key of a call (from its metadata), if any. A key
   * seen before returns the execution it started instead of starting another.
   */
  idempotencyKey?: (context: CallContext) => string | undefined;
}

interface FeatureEntry {
  feature: Feature;
  proto: FeatureProto;
  codec: ValueCodec;
  implementation: FeatureImplementation;
  isSilaService: boolean;
}

type Status = 'waiting' | 'running' | 'finishedSuccessfully' | 'finishedWithError';
const STATUS_NUMBER: Record<Status, number> = { waiting: 0, running: 1, finishedSuccessfully: 2, finishedWithError: 3 };

class Execution {
  status: Status = 'waiting';
  progress = 0;
  remainingSeconds: number | undefined;
  responses: Record<string, unknown> | undefined;
  error: SilaError | undefined;
  expiresAt: number | undefined;
  readonly changed = new Set<() => void>();
  readonly intermediates = new Set<(message: Record<string, unknown>) => void>();

  constructor(readonly uuid: string, readonly entry: FeatureEntry, readonly command: Command) {}

  get finished(): boolean {
    return this.status === 'finishedSuccessfully' || this.status === 'finishedWithError';
  }

  notify(): void {
    for (const listener of this.changed) listener();
  }
}

/** Unobservable commands have no progress or intermediate responses to report. */
const ignore = () => {};
const NO_METADATA: Record<string, SilaValue> = Object.freeze({}) as Record<string, SilaValue>;

/** Finished executions kept for late C_Result calls at most; the oldest go first. */
const MAX_RETAINED_EXECUTIONS = 10_000;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class SilaServer {
  readonly identity: ServerIdentity;
  private readonly root = frameworkRoot();
  private readonly entries: FeatureEntry[] = [];
  private readonly executions = new Map<string, Execution>();
  /** Idempotency key -> the execution it started (kept after the execution expires, so it is never run again). */
  private readonly executionsByKey = new Map<string, string>();
  /** Finished executions in the order they expire (all share one lifetime), so purging is cheap. */
  private readonly finishedExecutions: Execution[] = [];
  private readonly binaries: BinaryStore;
  private readonly grpcServer = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024, 'grpc.max_send_message_length': 16 * 1024 * 1024 });
  /** Ends every open stream when the server stops; each open stream listens to it (often more than ten). */
  private readonly abort = unboundedAbortController();
  private readonly tls: TlsMaterial | undefined;
  private boundPort: number | undefined;
  private readonly executionLifetime: number;

  constructor(private readonly options: SilaServerOptions) {
    this.identity = {
      name: options.name,
      type: options.type,
      uuid: options.uuid ?? randomUUID(),
      description: options.description ?? '',
      version: options.version ?? '1.0',
      vendorUrl: options.vendorUrl ?? 'https://workcell.dev',
    };
    checkIdentity(this.identity);
    this.executionLifetime = options.executionLifetimeSeconds ?? 86_400;
    this.binaries = new BinaryStore(options.binaryLifetimeSeconds ?? 600);
    if (!options.insecure) {
      this.tls = options.tls ?? createSelfSignedCertificate({ serverUuid: this.identity.uuid, hosts: options.host ? [options.host] : [] });
      assertKeyMatchesCertificate(this.tls);
    }
    this.addFeature(readFeatureFile(SILA_SERVICE_FDL), this.silaServiceImplementation());
    this.addBinaryTransferServices();
  }

  /** The certificate clients should trust (the CA of a self-signed server); undefined in insecure mode. */
  get certificatePem(): string | undefined {
    return this.tls?.certificatePem;
  }

  get port(): number {
    if (this.boundPort === undefined) throw new Error('the server has not been started');
    return this.boundPort;
  }

  get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  get features(): Feature[] {
    return this.entries.map((e) => e.feature);
  }

  /** Adds a feature given as a parsed feature, FDL text, or the path of an FDL file. */
  addFeature(feature: Feature | string, implementation: FeatureImplementation): this {
    if (this.boundPort !== undefined) throw new Error('features are added before the server starts');
    const parsed = typeof feature !== 'string' ? feature : feature.trimStart().startsWith('<') ? parseFeature(feature) : readFeatureFile(feature);
    if (this.entries.some((e) => sameFqi(featureFqi(e.feature), featureFqi(parsed)))) throw new Error(`feature ${featureFqi(parsed)} is added twice`);
    checkImplementation(parsed, implementation);
    const proto = deriveFeatureProto(parsed, this.root);
    const entry: FeatureEntry = { feature: parsed, proto, codec: new ValueCodec(parsed, this.root), implementation, isSilaService: parsed.identifier === 'SiLAService' && parsed.originator === 'org.silastandard' };
    this.entries.push(entry);
    this.grpcServer.addService(this.serviceDefinition(proto), this.serviceHandlers(entry));
    return this;
  }

  async start(): Promise<this> {
    const credentials = this.tls
      ? grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(this.tls.privateKeyPem), cert_chain: Buffer.from(this.tls.certificatePem) }], false)
      : grpc.ServerCredentials.createInsecure();
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.grpcServer.bindAsync(`${host}:${this.options.port ?? 0}`, credentials, (error, port) => (error ? reject(new Error(`cannot listen on ${host}:${this.options.port ?? 0}: ${error.message}`)) : resolve(port)));
    });
    return this;
  }

  /** Announces the started server over DNS-SD (multicast unless a transport is given); close it before stopping. */
  announce(transport?: DiscoveryTransport): Promise<SilaAnnouncement> {
    return announce({ ...this.identity, host: this.host, port: this.port, certificatePem: this.certificatePem }, transport);
  }

  /** Stops accepting calls, waits up to `graceMs` for running calls, then closes every connection. */
  async stop(graceMs = 2000): Promise<void> {
    this.abort.abort(new Error('the server is stopping'));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, graceMs);
      this.grpcServer.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  // --- gRPC plumbing ------------------------------------------------------------------------

  private serviceDefinition(proto: FeatureProto): grpc.ServiceDefinition {
    return Object.fromEntries([...proto.rpcs.values()].map((rpc) => [rpc.name, methodDefinition(rpc)]));
  }

  private serviceHandlers(entry: FeatureEntry): grpc.UntypedServiceImplementation {
    const handlers: grpc.UntypedServiceImplementation = {};
    const { feature } = entry;
    for (const command of feature.commands) {
      const id = command.identifier;
      if (!command.observable) {
        handlers[id] = this.unary(entry, fqi.command(feature, id), (request, context) => this.runUnobservable(entry, command, request, context));
        continue;
      }
      handlers[id] = this.unary(entry, fqi.command(feature, id), (request, context) => this.startObservable(entry, command, request, context));
      handlers[`${id}_Info`] = this.stream(entry, null, (request, call) => this.streamInfo(entry, command, request, call));
      if (command.intermediateResponses.length) handlers[`${id}_Intermediate`] = this.stream(entry, null, (request, call) => this.streamIntermediate(entry, command, request, call));
      handlers[`${id}_Result`] = this.unary(entry, null, async (request) => this.result(entry, command, request));
    }
    for (const property of feature.properties) {
      const source = entry.implementation.properties?.[property.identifier];
      const member = fqi.property(feature, property.identifier);
      const wrap = (value: SilaValue) => ({ [property.identifier]: entry.codec.encode(property.dataType, value, property.identifier) });
      if (property.observable) {
        handlers[`Subscribe_${property.identifier}`] = this.stream(entry, member, async (_request, call, context) => {
          const send = (value: SilaValue) => call.write(wrap(value));
          if (source instanceof ObservableProperty) {
            const unsubscribe = source.subscribe(send);
            await untilClosed(call, context.signal);
            unsubscribe();
            return;
          }
          const iterable = (source as PropertyStream)(context);
          for await (const value of iterable) {
            if (call.cancelled || call.destroyed) break;
            send(value);
          }
        });
      } else {
        handlers[`Get_${property.identifier}`] = this.unary(entry, member, async (_request, context) => wrap(await (source as PropertyGetter)(context)));
      }
    }
    for (const metadata of feature.metadata) {
      handlers[`Get_FCPAffectedByMetadata_${metadata.identifier}`] = this.unary(entry, null, async () => ({
        AffectedCalls: (entry.implementation.metadataAffects?.[metadata.identifier] ?? []).map((value) => ({ value })),
      }));
    }
    return handlers;
  }

  /** A unary handler: metadata is checked for `member` (null: calls that take no metadata), errors become SiLA errors. */
  private unary(entry: FeatureEntry, member: string | null, body: (request: any, context: CallContext) => Promise<unknown>): grpc.handleUnaryCall<any, any> {
    return (call, callback) => {
      let context: CallContext;
      try {
        context = { metadata: this.readMetadata(entry, member, call.metadata), signal: this.abort.signal };
      } catch (error) {
        callback(toGrpcStatus(asSilaError(error, entry)) as grpc.ServiceError);
        return;
      }
      body(call.request, context).then(
        (response) => callback(null, response),
        (error) => callback(toGrpcStatus(asSilaError(error, entry)) as grpc.ServiceError),
      );
    };
  }

  private stream(entry: FeatureEntry, member: string | null, body: (request: any, call: grpc.ServerWritableStream<any, any>, context: CallContext) => Promise<void>): grpc.handleServerStreamingCall<any, any> {
    return (call) => {
      const fail = (error: unknown) => {
        if (!call.destroyed) call.emit('error', toGrpcStatus(asSilaError(error, entry)));
      };
      let context: CallContext;
      try {
        context = { metadata: this.readMetadata(entry, member, call.metadata), signal: this.abort.signal };
      } catch (error) {
        fail(error);
        return;
      }
      body(call.request, call, context).then(() => {
        if (!call.destroyed && !call.cancelled) call.end();
      }, fail);
    };
  }

  /**
   * The metadata a call must carry: every metadata whose affected calls include the call's feature or
   * the call itself. SiLAService takes none at all.
   */
  private readMetadata(entry: FeatureEntry, member: string | null, headers: grpc.Metadata): Record<string, SilaValue> {
    if (entry.isSilaService) {
      const keys = Object.keys(headers.getMap()).filter((k) => k.startsWith('sila-') && k.endsWith('-bin'));
      if (keys.length) throw new FrameworkError('NO_METADATA_ALLOWED', `SiLAService calls take no metadata; received ${keys.join(', ')}`);
      return {};
    }
    if (member === null) return NO_METADATA;
    const required = this.requiredMetadata(entry, member);
    if (!required.length) return NO_METADATA;
    const values: Record<string, SilaValue> = {};
    for (const { owner, metadata } of required) values[metadata.identifier] = this.readMetadataValue(owner, metadata, headers);
    return values;
  }

  private readonly requiredMetadataCache = new Map<string, Array<{ owner: FeatureEntry; metadata: Metadata }>>();

  /** The metadata whose affected calls include `member` or its whole feature (features are fixed once started). */
  private requiredMetadata(entry: FeatureEntry, member: string): Array<{ owner: FeatureEntry; metadata: Metadata }> {
    let required = this.requiredMetadataCache.get(member);
    if (!required) {
      required = this.entries.flatMap((owner) =>
        owner.feature.metadata
          .filter((metadata) => (owner.implementation.metadataAffects?.[metadata.identifier] ?? []).some((a) => sameFqi(a, featureFqi(entry.feature)) || sameFqi(a, member)))
          .map((metadata) => ({ owner, metadata })),
      );
      this.requiredMetadataCache.set(member, required);
    }
    return required;
  }

  private readMetadataValue(owner: FeatureEntry, metadata: Metadata, headers: grpc.Metadata): SilaValue {
    const header = metadataHeader(owner.feature, metadata.identifier);
    const raw = headers.get(header)[0];
    const id = fqi.metadata(owner.feature, metadata.identifier);
    if (raw === undefined) throw new FrameworkError('INVALID_METADATA', `this call requires metadata ${id} (gRPC header ${header})`);
    try {
      const message = owner.proto.type(`Metadata_${metadata.identifier}`).decode(raw as Buffer) as unknown as Record<string, unknown>;
      return owner.codec.decode(metadata.dataType, message[metadata.identifier], metadata.identifier, true);
    } catch (error) {
      throw new FrameworkError('INVALID_METADATA', `metadata ${id} is invalid: ${(error as Error).message}`);
    }
  }

  // --- commands -----------------------------------------------------------------------------

  private readParameters(entry: FeatureEntry, command: Command, request: Record<string, unknown>): Record<string, SilaValue> {
    const values: Record<string, SilaValue> = {};
    for (const parameter of command.parameters) {
      const id = () => fqi.parameter(entry.feature, command.identifier, parameter.identifier);
      try {
        let value = entry.codec.decode(parameter.dataType, request[parameter.identifier], '', true);
        if (entry.codec.mayContainBinary(parameter.dataType)) value = this.resolveUploads(value, id());
        values[parameter.identifier] = value;
      } catch (error) {
        const detail = (error as Error).message;
        throw new ValidationError(id(), detail === 'missing value' ? `parameter ${parameter.identifier} is missing` : `parameter ${parameter.identifier}: ${detail}`);
      }
    }
    return values;
  }

  /** Replaces binary transfer references in a decoded parameter by the uploaded bytes. */
  private resolveUploads(value: SilaValue, parameterFqi: string): SilaValue {
    if (value instanceof BinaryRef) return this.binaries.takeUpload(value.binaryTransferUUID, parameterFqi);
    if (Array.isArray(value)) return value.map((v) => this.resolveUploads(v, parameterFqi));
    if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.resolveUploads(v as SilaValue, parameterFqi)]));
    }
    return value;
  }

  private encodeResponses(entry: FeatureEntry, items: readonly Parameter[], values: Record<string, SilaValue> | void): Record<string, unknown> {
    const message: Record<string, unknown> = {};
    for (const item of items) {
      let value = values?.[item.identifier];
      if (value !== undefined && entry.codec.mayContainBinary(item.dataType)) value = this.offerLargeBinaries(value);
      try {
        message[item.identifier] = entry.codec.encode(item.dataType, value, item.identifier);
      } catch (error) {
        throw new UndefinedExecutionError(`the server produced an invalid response: ${(error as Error).message}`);
      }
    }
    return message;
  }

  private offerLargeBinaries(value: SilaValue): SilaValue {
    if (value instanceof Uint8Array) return value.length > MAX_INLINE_BINARY ? new BinaryRef(this.binaries.offerDownload(value)) : value;
    if (Array.isArray(value)) return value.map((v) => this.offerLargeBinaries(v));
    if (value && typeof value === 'object' && !(value instanceof BinaryRef)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.offerLargeBinaries(v as SilaValue)]));
    }
    return value;
  }

  private handlerFor(entry: FeatureEntry, command: Command): CommandHandler {
    return entry.implementation.commands![command.identifier]!;
  }

  private async runUnobservable(entry: FeatureEntry, command: Command, request: Record<string, unknown>, context: CallContext): Promise<unknown> {
    const parameters = this.readParameters(entry, command, request);
    const result = await this.handlerFor(entry, command)(parameters, { ...context, progress: ignore, intermediate: ignore });
    return this.encodeResponses(entry, command.responses, result);
  }

  private async startObservable(entry: FeatureEntry, command: Command, request: Record<string, unknown>, context: CallContext): Promise<unknown> {
    const key = entry.implementation.idempotencyKey?.(context);
    if (key !== undefined) {
      const started = this.executionsByKey.get(key);
      if (started && this.executions.has(started)) return { commandExecutionUUID: { value: started }, lifetimeOfExecution: duration(this.executionLifetime) };
      if (started) throw new FrameworkError('COMMAND_EXECUTION_NOT_ACCEPTED', `the execution started with idempotency key '${key}' has expired; it is not run again`);
    }
    const parameters = this.readParameters(entry, command, request);
    const refusal = entry.implementation.admit?.[command.identifier]?.(parameters, context);
    if (refusal !== undefined) throw new FrameworkError('COMMAND_EXECUTION_NOT_ACCEPTED', refusal);
    this.purgeExecutions();
    const execution = new Execution(randomUUID(), entry, command);
    this.executions.set(execution.uuid, execution);
    if (key !== undefined) this.executionsByKey.set(key, execution.uuid);
    const commandContext: CommandContext = {
      ...context,
      executionUuid: execution.uuid,
      progress: (fraction, remainingSeconds) => {
        if (execution.finished) return;
        execution.progress = Math.min(1, Math.max(0, fraction));
        execution.remainingSeconds = remainingSeconds;
        execution.notify();
      },
      intermediate: (responses) => {
        if (execution.finished) return;
        const message = this.encodeResponses(entry, command.intermediateResponses, responses);
        for (const listener of execution.intermediates) listener(message);
      },
    };
    execution.status = 'running';
    // The handler runs on after the confirmation is sent; its outcome is kept for C_Result.
    queueMicrotask(() => {
      Promise.resolve()
        .then(() => this.handlerFor(entry, command)(parameters, commandContext))
        .then(
          (result) => {
            execution.responses = this.encodeResponses(entry, command.responses, result);
            execution.status = 'finishedSuccessfully';
          },
          (error) => {
            execution.error = asSilaError(error, entry, command);
            execution.status = 'finishedWithError';
          },
        )
        .catch((error) => {
          execution.error = asSilaError(error, entry, command);
          execution.status = 'finishedWithError';
        })
        .finally(() => {
          if (execution.status === 'finishedSuccessfully') execution.progress = 1;
          execution.remainingSeconds = 0;
          execution.expiresAt = Date.now() + this.executionLifetime * 1000;
          this.finishedExecutions.push(execution);
          execution.notify();
        });
    });
    return { commandExecutionUUID: { value: execution.uuid }, lifetimeOfExecution: duration(this.executionLifetime) };
  }

  private execution(entry: FeatureEntry, command: Command, request: { value?: string } | null): Execution {
    const uuid = request?.value ?? '';
    const execution = this.executions.get(uuid);
    if (!execution || execution.entry !== entry || execution.command !== command || (execution.expiresAt !== undefined && execution.expiresAt < Date.now())) {
      throw new FrameworkError('INVALID_COMMAND_EXECUTION_UUID', `no execution '${uuid}' of command ${fqi.command(entry.feature, command.identifier)}`);
    }
    return execution;
  }

  private infoMessage(execution: Execution): Record<string, unknown> {
    return {
      commandStatus: STATUS_NUMBER[execution.status],
      progressInfo: { value: execution.progress },
      ...(execution.remainingSeconds !== undefined ? { estimatedRemainingTime: duration(execution.remainingSeconds) } : {}),
      ...(execution.expiresAt !== undefined ? { updatedLifetimeOfExecution: duration(Math.max(0, (execution.expiresAt - Date.now()) / 1000)) } : {}),
    };
  }

  private async streamInfo(entry: FeatureEntry, command: Command, request: { value?: string }, call: grpc.ServerWritableStream<any, any>): Promise<void> {
    const execution = this.execution(entry, command, request);
    await this.follow(execution, call, () => call.write(this.infoMessage(execution)));
  }

  private async streamIntermediate(entry: FeatureEntry, command: Command, request: { value?: string }, call: grpc.ServerWritableStream<any, any>): Promise<void> {
    const execution = this.execution(entry, command, request);
    const forward = (message: Record<string, unknown>) => call.write(message);
    execution.intermediates.add(forward);
    try {
      await this.follow(execution, call, () => {});
    } finally {
      execution.intermediates.delete(forward);
    }
  }

  /** Calls `onChange` now and at every change of the execution until it finishes or the client leaves. */
  private async follow(execution: Execution, call: grpc.ServerWritableStream<any, any>, onChange: () => void): Promise<void> {
    if (execution.finished) {
      // Already over: the final state is all there is to say.
      onChange();
      return;
    }
    const finished = new AbortController();
    const listener = () => {
      onChange();
      if (execution.finished) finished.abort();
    };
    execution.changed.add(listener);
    listener();
    try {
      await untilClosed(call, this.abort.signal, finished.signal);
    } finally {
      execution.changed.delete(listener);
    }
  }

  private async result(entry: FeatureEntry, command: Command, request: { value?: string }): Promise<unknown> {
    const execution = this.execution(entry, command, request);
    if (!execution.finished) throw new FrameworkError('COMMAND_EXECUTION_NOT_FINISHED', `execution '${execution.uuid}' has not finished yet`);
    if (execution.error) throw execution.error;
    return execution.responses;
  }

  private purgeExecutions(): void {
    const now = Date.now();
    let expired = 0;
    const queue = this.finishedExecutions;
    while (expired < queue.length && (queue[expired]!.expiresAt! < now || queue.length - expired > MAX_RETAINED_EXECUTIONS)) {
      this.executions.delete(queue[expired]!.uuid);
      expired++;
    }
    if (expired) queue.splice(0, expired);
  }

  // --- SiLAService and binary transfer --------------------------------------------------------

  private silaServiceImplementation(): FeatureImplementation {
    return {
      commands: {
        GetFeatureDefinition: ({ FeatureIdentifier }) => {
          const entry = this.entries.find((e) => sameFqi(featureFqi(e.feature), FeatureIdentifier));
          if (!entry) throw new DefinedExecutionError('UnimplementedFeature', `this server does not implement ${FeatureIdentifier}`);
          return { FeatureDefinition: entry.feature.xml };
        },
        SetServerName: ({ ServerName }) => {
          this.identity.name = ServerName;
        },
      },
      properties: {
        ServerName: () => this.identity.name,
        ServerType: () => this.identity.type,
        ServerUUID: () => this.identity.uuid,
        ServerDescription: () => this.identity.description,
        ServerVersion: () => this.identity.version,
        ServerVendorURL: () => this.identity.vendorUrl,
        ImplementedFeatures: () => this.entries.map((e) => featureFqi(e.feature)),
      },
    };
  }

  private addBinaryTransferServices(): void {
    const type = (name: string) => this.root.lookupType(`sila2.org.silastandard.${name}`);
    const rpc = (service: string, name: string, request: string, response: string, streaming: boolean): RpcDefinition => ({
      name,
      path: `/sila2.org.silastandard.${service}/${name}`,
      requestType: type(request),
      responseType: type(response),
      requestStream: streaming,
      responseStream: streaming,
    });
    const fail = (error: unknown) => toGrpcStatus(error instanceof SilaError ? error : new UndefinedExecutionError((error as Error).message)) as grpc.ServiceError;
    const unary = (body: (request: any) => unknown): grpc.handleUnaryCall<any, any> => (call, callback) => {
      try {
        callback(null, body(call.request));
      } catch (error) {
        callback(fail(error));
      }
    };
    const bidi = (body: (request: any) => unknown): grpc.handleBidiStreamingCall<any, any> => (call) => {
      call.on('data', (request) => {
        try {
          call.write(body(request));
        } catch (error) {
          call.emit('error', fail(error));
        }
      });
      call.on('end', () => call.end());
    };
    this.grpcServer.addService(
      {
        CreateBinary: methodDefinition(rpc('BinaryUpload', 'CreateBinary', 'CreateBinaryRequest', 'CreateBinaryResponse', false)),
        UploadChunk: methodDefinition(rpc('BinaryUpload', 'UploadChunk', 'UploadChunkRequest', 'UploadChunkResponse', true)),
        DeleteBinary: methodDefinition(rpc('BinaryUpload', 'DeleteBinary', 'DeleteBinaryRequest', 'DeleteBinaryResponse', false)),
      },
      {
        CreateBinary: unary((request) => {
          const parameter = String(request.parameterIdentifier ?? '');
          if (!this.isBinaryParameter(parameter)) throw new ValidationError(parameter, `'${parameter}' is not a Binary parameter of any command of this server`);
          const created = this.binaries.createUpload(parameter, Number(request.binarySize), request.chunkCount);
          return { binaryTransferUUID: created.uuid, lifetimeOfBinary: duration(created.lifetimeSeconds) };
        }),
        UploadChunk: bidi((request) => {
          const lifetime = this.binaries.addChunk(request.binaryTransferUUID, request.chunkIndex, Buffer.from(request.payload));
          return { binaryTransferUUID: request.binaryTransferUUID, chunkIndex: request.chunkIndex, lifetimeOfBinary: duration(lifetime) };
        }),
        DeleteBinary: unary((request) => {
          this.binaries.delete(request.binaryTransferUUID);
          return {};
        }),
      },
    );
    this.grpcServer.addService(
      {
        GetBinaryInfo: methodDefinition(rpc('BinaryDownload', 'GetBinaryInfo', 'GetBinaryInfoRequest', 'GetBinaryInfoResponse', false)),
        GetChunk: methodDefinition(rpc('BinaryDownload', 'GetChunk', 'GetChunkRequest', 'GetChunkResponse', true)),
        DeleteBinary: methodDefinition(rpc('BinaryDownload', 'DeleteBinary', 'DeleteBinaryRequest', 'DeleteBinaryResponse', false)),
      },
      {
        GetBinaryInfo: unary((request) => {
          const info = this.binaries.downloadInfo(request.binaryTransferUUID);
          return { binarySize: info.size, lifetimeOfBinary: duration(info.lifetimeSeconds) };
        }),
        GetChunk: bidi((request) => {
          const offset = Number(request.offset);
          const payload = this.binaries.chunk(request.binaryTransferUUID, offset, request.length);
          return { binaryTransferUUID: request.binaryTransferUUID, offset, payload, lifetimeOfBinary: duration(this.binaries.downloadInfo(request.binaryTransferUUID).lifetimeSeconds) };
        }),
        DeleteBinary: unary((request) => {
          this.binaries.delete(request.binaryTransferUUID);
          return {};
        }),
      },
    );
  }

  private isBinaryParameter(parameterFqi: string): boolean {
    return this.entries.some((entry) =>
      entry.feature.commands.some((command) =>
        command.parameters.some((p) => sameFqi(fqi.parameter(entry.feature, command.identifier, p.identifier), parameterFqi) && entry.codec.mayContainBinary(p.dataType)),
      ),
    );
  }
}

function unboundedAbortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** Resolves when the client cancels the stream, the stream closes, or `signal` aborts; leaves no listener behind. */
function untilClosed(call: grpc.ServerWritableStream<any, any>, ...signals: AbortSignal[]): Promise<void> {
  if (call.cancelled || signals.some((s) => s.aborted)) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      call.off('cancelled', done);
      call.off('close', done);
      for (const s of signals) s.removeEventListener('abort', done);
      resolve();
    };
    call.on('cancelled', done);
    call.on('close', done);
    for (const s of signals) s.addEventListener('abort', done, { once: true });
  });
}

const methodDefinitions = new WeakMap<RpcDefinition, grpc.MethodDefinition<any, any>>();

/** The grpc-js method of an RPC (built once per RPC: this sits on every call's path). */
export function methodDefinition(rpc: RpcDefinition): grpc.MethodDefinition<any, any> {
  let definition = methodDefinitions.get(rpc);
  if (!definition) {
    definition = buildMethodDefinition(rpc);
    methodDefinitions.set(rpc, definition);
  }
  return definition;
}

function buildMethodDefinition(rpc: RpcDefinition): grpc.MethodDefinition<any, any> {
  return {
    path: rpc.path,
    requestStream: rpc.requestStream,
    responseStream: rpc.responseStream,
    requestSerialize: (message: object) => Buffer.from(rpc.requestType.encode(message).finish()),
    requestDeserialize: (bytes: Buffer) => rpc.requestType.decode(bytes),
    responseSerialize: (message: object) => Buffer.from(rpc.responseType.encode(message).finish()),
    responseDeserialize: (bytes: Buffer) => rpc.responseType.decode(bytes),
    originalName: rpc.name,
  };
}

export function duration(seconds: number): { seconds: number; nanos: number } {
  const whole = Math.floor(seconds);
  return { seconds: whole, nanos: Math.round((seconds - whole) * 1e9) };
}

/** What a handler threw, as the SiLA error the client receives. */
function asSilaError(error: unknown, entry: FeatureEntry, command?: Command): SilaError {
  if (error instanceof DefinedExecutionError) {
    const declared = command ? command.errors : entry.feature.commands.flatMap((c) => c.errors).concat(entry.feature.properties.flatMap((p) => p.errors));
    const short = error.identifier;
    if (declared.includes(short) || entry.feature.errors.some((e) => e.identifier === short)) {
      return new DefinedExecutionError(error.errorIdentifier.includes('/') ? error.errorIdentifier : fqi.error(entry.feature, short), error.message);
    }
    return new UndefinedExecutionError(`${short}: ${error.message}`);
  }
  if (error instanceof SilaError) return error;
  if (error instanceof CodecError) return new UndefinedExecutionError(error.message);
  return new UndefinedExecutionError(error instanceof Error ? error.message : String(error));
}

function checkIdentity(identity: ServerIdentity): void {
  const problems: string[] = [];
  if (!identity.name || identity.name.length > 255) problems.push('name must have 1 to 255 characters');
  if (!/^[A-Z][a-zA-Z0-9]*$/.test(identity.type)) problems.push(`type '${identity.type}' must start with an upper-case letter, then letters and digits`);
  if (!UUID_PATTERN.test(identity.uuid)) problems.push(`uuid '${identity.uuid}' must be a lower-case UUID`);
  if (!/^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?(_[_a-zA-Z0-9]+)?$/.test(identity.version)) problems.push(`version '${identity.version}' must look like 1.0, 1.2.3 or 1.2.3_suffix`);
  if (!/^https?:\/\/.+/.test(identity.vendorUrl)) problems.push(`vendorUrl '${identity.vendorUrl}' must be an http(s) URL`);
  if (problems.length) throw new Error(`invalid SiLA server identity: ${problems.join('; ')}`);
}

/** Every command and property of the feature has a handler, and nothing else does. */
function checkImplementation(feature: Feature, implementation: FeatureImplementation): void {
  const missing: string[] = [];
  for (const command of feature.commands) if (!implementation.commands?.[command.identifier]) missing.push(`command ${command.identifier}`);
  for (const property of feature.properties) if (!implementation.properties?.[property.identifier]) missing.push(`property ${property.identifier}`);
  const unknown = [
    ...Object.keys(implementation.commands ?? {}).filter((c) => !feature.commands.some((x) => x.identifier === c)).map((c) => `command ${c}`),
    ...Object.keys(implementation.properties ?? {}).filter((p) => !feature.properties.some((x) => x.identifier === p)).map((p) => `property ${p}`),
  ];
  if (missing.length || unknown.length) {
    throw new Error(`implementation of ${featureFqi(feature)} does not match its definition:${missing.length ? ` missing ${missing.join(', ')};` : ''}${unknown.length ? ` not in the feature: ${unknown.join(', ')}` : ''}`);
  }
}

