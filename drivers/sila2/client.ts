/**
 * A SiLA 2 client that needs no prior knowledge of the server: it reads SiLAService, fetches every
 * feature definition, derives the protobuf types at run time, and calls commands and properties by name
 * with plain values.
 */
import { connect as tlsConnect, checkServerIdentity, type PeerCertificate } from 'node:tls';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ValueCodec, MAX_INLINE_BINARY } from './codec.ts';
import { BinaryTransferError, FrameworkError, SilaConnectionError, ValidationError, fromGrpcError } from './errors.ts';
import { parseFeature } from './fdl.ts';
import { fqi, metadataHeader, sameFqi, type Command, type Feature, type Metadata, type Parameter } from './feature.ts';
import { deriveFeatureProto, frameworkRoot, type FeatureProto, type RpcDefinition } from './proto.ts';
import { methodDefinition } from './server.ts';
import { serverUuidFromCertificate } from './tls.ts';
import { BinaryRef, type SilaValue } from './values.ts';
import type { ServerIdentity } from './server.ts';

export interface SilaClientOptions {
  host: string;
  port: number;
  /** PEM of the CA to trust (for a self-signed server, its certificate). Without it, the system's trusted CAs. */
  ca?: string;
  /** Plain-text gRPC, for testing only. */
  insecure?: boolean;
  connectTimeoutMs?: number;
  /** Default deadline of unary calls (default 30 s); streams have none. */
  callTimeoutMs?: number;
  /** How long streams keep trying to reconnect after the server went away (default 60 s). */
  reconnectTimeoutMs?: number;
}

export interface CallOptions {
  /** Metadata values by metadata identifier (or fully qualified identifier). */
  metadata?: Record<string, SilaValue>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export type CommandStatus = 'waiting' | 'running' | 'finishedSuccessfully' | 'finishedWithError';

export interface ExecutionInfo {
  status: CommandStatus;
  progress?: number;
  estimatedRemainingSeconds?: number;
  updatedLifetimeSeconds?: number;
}

export type ExecutionUpdate = ({ kind: 'info' } & ExecutionInfo) | { kind: 'intermediate'; responses: Record<string, SilaValue> };

/** The certificate could not be verified against the trusted CAs. */
export class UntrustedCertificateError extends SilaConnectionError {
  override name = 'UntrustedCertificateError';
}

/** TLS and plain text were mixed up between client and server. */
export class TransportSecurityError extends SilaConnectionError {
  override name = 'TransportSecurityError';
}

/** How long a finished execution's streams may take to be ended by the server before they are cancelled. */
const STREAM_END_GRACE_MS = 2000;
const STATUS_NAMES: CommandStatus[] = ['waiting', 'running', 'finishedSuccessfully', 'finishedWithError'];
const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_SIGNATURE_FAILURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED',
]);

/** SiLA servers with self-signed certificates use CN "SiLA2" rather than a host name; the CA check still applies. */
function silaServerIdentity(host: string, certificate: PeerCertificate): Error | undefined {
  const error = checkServerIdentity(host, certificate);
  return error && certificate.subject?.CN !== 'SiLA2' ? error : undefined;
}

interface FeatureHandle {
  feature: Feature;
  proto: FeatureProto;
  codec: ValueCodec;
}

export class SilaClient {
  private handles: FeatureHandle[] = [];
  private root = frameworkRoot();
  identity!: ServerIdentity & { implementedFeatures: string[] };
  /** The server UUID in the server's certificate, when it carries one. */
  certificateServerUuid: string | undefined;

  private constructor(private readonly grpcClient: grpc.Client, readonly options: SilaClientOptions) {}

  static async connect(options: SilaClientOptions): Promise<SilaClient> {
    const peer = await preflight(options);
    const address = `${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
    // The certificate is always checked against the real host, whatever name grpc-js is told.
    const credentials = options.insecure
      ? grpc.credentials.createInsecure()
      : grpc.credentials.createSsl(options.ca ? Buffer.from(options.ca) : null, null, null, { checkServerIdentity: (_name, certificate) => silaServerIdentity(options.host, certificate) });
    const grpcClient = new grpc.Client(address, credentials, {
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      'grpc.max_send_message_length': 16 * 1024 * 1024,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2000,
      // TLS server names (SNI) cannot be IP addresses (RFC 6066); SiLA certificates are named SiLA2.
      ...(isIP(options.host) && !options.insecure ? { 'grpc.ssl_target_name_override': 'SiLA2' } : {}),
    });
    const client = new SilaClient(grpcClient, options);
    try {
      client.certificateServerUuid = peer ? serverUuidFromCertificate(peer) : undefined;
      await client.discover();
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  close(): void {
    this.grpcClient.close();
  }

  get features(): Feature[] {
    return this.handles.map((h) => h.feature);
  }

  /**
   * Reads SiLAService and every feature definition; called by connect(). A minimal SiLAService bootstraps
   * the reads, then every feature, SiLAService included, is taken from the server's own definitions.
   */
  private async discover(): Promise<void> {
    this.addFeature(parseFeature(SILA_SERVICE_BOOTSTRAP));
    const read = async (property: string) => this.get('SiLAService', property);
    const implementedFeatures = (await read('ImplementedFeatures')) as string[];
    this.identity = {
      name: (await read('ServerName')) as string,
      type: (await read('ServerType')) as string,
      uuid: (await read('ServerUUID')) as string,
      description: (await read('ServerDescription')) as string,
      version: (await read('ServerVersion')) as string,
      vendorUrl: (await read('ServerVendorURL')) as string,
      implementedFeatures,
    };
    if (this.certificateServerUuid && this.certificateServerUuid.toLowerCase() !== this.identity.uuid.toLowerCase()) {
      throw new UntrustedCertificateError(`the certificate names server ${this.certificateServerUuid}, but the server reports UUID ${this.identity.uuid}`, grpc.status.UNAUTHENTICATED);
    }
    const features: Feature[] = [];
    for (const id of implementedFeatures) {
      const { FeatureDefinition } = await this.call('SiLAService', 'GetFeatureDefinition', { FeatureIdentifier: id });
      try {
        features.push(parseFeature(FeatureDefinition as string));
      } catch (error) {
        throw new Error(`the server's definition of ${id} is invalid: ${(error as Error).message}`);
      }
    }
    this.handles = [];
    this.root = frameworkRoot();
    for (const feature of features) this.addFeature(feature);
  }

  private addFeature(feature: Feature): void {
    const proto = deriveFeatureProto(feature, this.root);
    this.handles.push({ feature, proto, codec: new ValueCodec(feature, this.root) });
  }

  /** A feature by identifier ('GreetingProvider') or fully qualified identifier. */
  feature(reference: string): Feature {
    return this.handle(reference).feature;
  }

  private handle(reference: string): FeatureHandle {
    const matches = reference.includes('/')
      ? this.handles.filter((h) => sameFqi(h.proto.fqi, reference))
      : this.handles.filter((h) => h.feature.identifier === reference || h.feature.identifier.toLowerCase() === reference.toLowerCase());
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw new Error(`'${reference}' is ambiguous: ${matches.map((m) => m.proto.fqi).join(', ')}; use the fully qualified identifier`);
    throw new Error(`the server implements no feature '${reference}'; it implements ${this.handles.map((h) => h.proto.fqi).join(', ')}`);
  }

  private command(handle: FeatureHandle, identifier: string): Command {
    const command = handle.feature.commands.find((c) => c.identifier === identifier);
    if (!command) throw new Error(`feature ${handle.feature.identifier} has no command '${identifier}'; it has ${handle.feature.commands.map((c) => c.identifier).join(', ') || 'none'}`);
    return command;
  }

  // --- calls --------------------------------------------------------------------------------

  /** Runs a command and returns its responses; an observable command is started and awaited. */
  async call(featureRef: string, commandId: string, parameters: Record<string, SilaValue> = {}, options: CallOptions = {}): Promise<Record<string, SilaValue>> {
    const handle = this.handle(featureRef);
    const command = this.command(handle, commandId);
    if (command.observable) return (await this.start(featureRef, commandId, parameters, options)).result(options);
    const request = await this.encodeParameters(handle, command, parameters);
    const response = await this.unary(handle.proto.rpcs.get(commandId)!, request, options, handle);
    return this.decodeItems(handle, command.responses, response);
  }

  /** Starts an observable command; the execution can be followed and its result awaited. */
  async start(featureRef: string, commandId: string, parameters: Record<string, SilaValue> = {}, options: CallOptions = {}): Promise<CommandExecution> {
    const handle = this.handle(featureRef);
    const command = this.command(handle, commandId);
    if (!command.observable) throw new Error(`${commandId} is not observable; use call()`);
    const request = await this.encodeParameters(handle, command, parameters);
    const confirmation = (await this.unary(handle.proto.rpcs.get(commandId)!, request, options, handle)) as { commandExecutionUUID: { value: string }; lifetimeOfExecution?: { seconds: unknown; nanos: number } | null };
    return new CommandExecution(this, handle, command, confirmation.commandExecutionUUID.value);
  }

  /** Follows an execution started earlier, by this or another client (e.g. before a restart). */
  attach(featureRef: string, commandId: string, executionUuid: string): CommandExecution {
    const handle = this.handle(featureRef);
    const command = this.command(handle, commandId);
    if (!command.observable) throw new Error(`${commandId} is not observable`);
    return new CommandExecution(this, handle, command, executionUuid);
  }

  async get(featureRef: string, propertyId: string, options: CallOptions = {}): Promise<SilaValue> {
    const handle = this.handle(featureRef);
    const property = handle.feature.properties.find((p) => p.identifier === propertyId);
    if (!property) throw new Error(`feature ${handle.feature.identifier} has no property '${propertyId}'`);
    if (property.observable) {
      for await (const value of this.subscribe(featureRef, propertyId, options)) return value;
      throw new SilaConnectionError(`the subscription to ${propertyId} ended without a value`, grpc.status.UNAVAILABLE);
    }
    const response = await this.unary(handle.proto.rpcs.get(`Get_${propertyId}`)!, {}, options, handle);
    return (await this.decodeItems(handle, [property], response))[propertyId]!;
  }

  /** Values of an observable property as they change; survives server restarts until cancelled. */
  subscribe(featureRef: string, propertyId: string, options: CallOptions = {}): AsyncIterable<SilaValue> {
    const handle = this.handle(featureRef);
    const property = handle.feature.properties.find((p) => p.identifier === propertyId);
    if (!property) throw new Error(`feature ${handle.feature.identifier} has no property '${propertyId}'`);
    if (!property.observable) throw new Error(`property ${propertyId} is not observable; use get()`);
    const rpc = handle.proto.rpcs.get(`Subscribe_${propertyId}`)!;
    const metadata = this.metadata(options.metadata, handle);
    const client = this;
    return {
      async *[Symbol.asyncIterator]() {
        for await (const message of client.resilientStream(rpc, {}, metadata, options.signal, false)) {
          yield (await client.decodeItems(handle, [property], message))[propertyId]!;
        }
      },
    };
  }

  /** The calls that require a metadata item (fully qualified identifiers). */
  async affectedCalls(featureRef: string, metadataId: string): Promise<string[]> {
    const handle = this.handle(featureRef);
    const response = (await this.unary(handle.proto.rpcs.get(`Get_FCPAffectedByMetadata_${metadataId}`)!, {}, {}, handle)) as { AffectedCalls: { value: string }[] };
    return response.AffectedCalls.map((s) => s.value);
  }

  // --- plumbing -----------------------------------------------------------------------------

  /** @internal */
  unary(rpc: RpcDefinition, request: object, options: CallOptions, handle?: FeatureHandle, binaryTransfer = false): Promise<any> {
    const definition = methodDefinition(rpc);
    const metadata = this.metadata(options.metadata, handle);
    return new Promise((resolve, reject) => {
      const call = this.grpcClient.makeUnaryRequest(
        rpc.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        request,
        metadata,
        { deadline: Date.now() + (options.timeoutMs ?? this.options.callTimeoutMs ?? 30_000) },
        (error, response) => (error ? reject(fromGrpcError(error, binaryTransfer)) : resolve(response)),
      );
      options.signal?.addEventListener('abort', () => call.cancel(), { once: true });
    });
  }

  /**
   * Follows a server stream, handing each message to `onMessage`, and re-opens it when the connection
   * drops (server restart) until the server ends it (`endsNormally`), `onMessage` returns 'stop', or
   * the caller aborts. Event-driven: this is on the path of every observable command.
   * @internal
   */
  follow(rpc: RpcDefinition, request: object, metadata: grpc.Metadata, signal: AbortSignal | undefined, endsNormally: boolean, onMessage: (message: any) => void | 'stop'): Promise<void> {
    const definition = methodDefinition(rpc);
    const giveUpAfter = this.options.reconnectTimeoutMs ?? 60_000;
    let lostAt: number | undefined;
    let backoff = 100;
    return new Promise<void>((resolve, reject) => {
      const open = () => {
        if (signal?.aborted) return resolve();
        const call = this.grpcClient.makeServerStreamRequest(rpc.path, definition.requestSerialize, definition.responseDeserialize, request, metadata, {});
        // A stream the server has ended is never cancelled: needless resets look like an HTTP/2
        // rapid-reset attack to servers under load, which then drop the whole connection.
        let settled = false;
        const cancel = () => {
          call.cancel();
          resolve();
        };
        const onAbort = () => finish(cancel);
        const finish = (then: () => void) => {
          if (settled) return;
          settled = true;
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
            lostAt ??= Date.now();
            if (Date.now() - lostAt > giveUpAfter) return reject(mapped);
            setTimeout(open, backoff);
            backoff = Math.min(backoff * 2, 2000);
          }),
        );
      };
      open();
    });
  }

  /** The messages of `follow()` as an async iterable, for callers that iterate. @internal */
  async *resilientStream(rpc: RpcDefinition, request: object, metadata: grpc.Metadata, signal: AbortSignal | undefined, endsNormally: boolean): AsyncGenerator<any> {
    const mailbox = new Mailbox<any>();
    const stop = new AbortController();
    const forward = () => stop.abort();
    signal?.addEventListener('abort', forward, { once: true });
    const following = this.follow(rpc, request, metadata, stop.signal, endsNormally, (message) => mailbox.push(message)).then(
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

  /** @internal */
  metadata(values: Record<string, SilaValue> | undefined, target?: FeatureHandle): grpc.Metadata {
    const metadata = new grpc.Metadata();
    // Calls wait for the channel to (re)connect instead of failing at once; nothing is sent before that,
    // so a command is never duplicated by the wait.
    metadata.setOptions({ waitForReady: true });
    if (!values) return metadata;
    if (target?.feature.identifier === 'SiLAService') throw new FrameworkError('NO_METADATA_ALLOWED', 'SiLAService calls take no metadata');
    for (const [reference, value] of Object.entries(values)) {
      const { handle, item } = this.findMetadata(reference);
      const message = handle.proto.type(`Metadata_${item.identifier}`).encode({ [item.identifier]: handle.codec.encode(item.dataType, value, item.identifier) }).finish();
      metadata.set(metadataHeader(handle.feature, item.identifier), Buffer.from(message));
    }
    return metadata;
  }

  private findMetadata(reference: string): { handle: FeatureHandle; item: Metadata } {
    const found = this.handles.flatMap((handle) =>
      handle.feature.metadata.filter((m) => m.identifier === reference || sameFqi(fqi.metadata(handle.feature, m.identifier), reference)).map((item) => ({ handle, item })),
    );
    if (found.length !== 1) throw new Error(found.length ? `metadata '${reference}' is ambiguous; use its fully qualified identifier` : `the server defines no metadata '${reference}'`);
    return found[0]!;
  }

  private async encodeParameters(handle: FeatureHandle, command: Command, parameters: Record<string, SilaValue>): Promise<Record<string, unknown>> {
    const request: Record<string, unknown> = {};
    for (const parameter of command.parameters) {
      let value = parameters[parameter.identifier];
      if (value === undefined) throw new ValidationError(fqi.parameter(handle.feature, command.identifier, parameter.identifier), `parameter ${parameter.identifier} is missing`);
      if (handle.codec.mayContainBinary(parameter.dataType)) {
        const parameterFqi = fqi.parameter(handle.feature, command.identifier, parameter.identifier);
        value = await handle.codec.mapBinaries(parameter.dataType, value, async (b) => (b instanceof Uint8Array && b.length > MAX_INLINE_BINARY ? this.upload(b, parameterFqi) : b));
      }
      try {
        request[parameter.identifier] = handle.codec.encode(parameter.dataType, value, parameter.identifier);
      } catch (error) {
        throw new ValidationError(fqi.parameter(handle.feature, command.identifier, parameter.identifier), (error as Error).message);
      }
    }
    const unknown = Object.keys(parameters).filter((p) => !command.parameters.some((x) => x.identifier === p));
    if (unknown.length) throw new Error(`${command.identifier} has no parameter ${unknown.join(', ')}; it takes ${command.parameters.map((p) => p.identifier).join(', ') || 'none'}`);
    return request;
  }

  /** @internal */
  async decodeItems(handle: FeatureHandle, items: readonly Parameter[], message: Record<string, unknown>): Promise<Record<string, SilaValue>> {
    const values: Record<string, SilaValue> = {};
    for (const item of items) {
      let value = handle.codec.decode(item.dataType, message[item.identifier], item.identifier, false);
      if (handle.codec.mayContainBinary(item.dataType)) value = await handle.codec.mapBinaries(item.dataType, value, async (b) => (b instanceof BinaryRef ? this.download(b.binaryTransferUUID) : b));
      values[item.identifier] = value;
    }
    return values;
  }

  private binaryRpc(service: 'BinaryUpload' | 'BinaryDownload', name: string, request: string, response: string, streaming: boolean): RpcDefinition {
    const type = (n: string) => this.root.lookupType(`sila2.org.silastandard.${n}`);
    return { name, path: `/sila2.org.silastandard.${service}/${name}`, requestType: type(request), responseType: type(response), requestStream: streaming, responseStream: streaming };
  }

  /** Uploads a large binary for a command parameter; returns the reference to send instead. */
  async upload(bytes: Uint8Array, parameterFqi: string): Promise<BinaryRef> {
    const chunkCount = Math.ceil(bytes.length / MAX_INLINE_BINARY);
    const created = await this.unary(this.binaryRpc('BinaryUpload', 'CreateBinary', 'CreateBinaryRequest', 'CreateBinaryResponse', false), { binarySize: bytes.length, chunkCount, parameterIdentifier: parameterFqi }, {}, undefined, true);
    const uuid = created.binaryTransferUUID as string;
    const rpc = this.binaryRpc('BinaryUpload', 'UploadChunk', 'UploadChunkRequest', 'UploadChunkResponse', true);
    await this.bidi(rpc, Array.from({ length: chunkCount }, (_, i) => ({ binaryTransferUUID: uuid, chunkIndex: i, payload: bytes.subarray(i * MAX_INLINE_BINARY, (i + 1) * MAX_INLINE_BINARY) })));
    return new BinaryRef(uuid);
  }

  /** Downloads a binary the server offers by reference, then frees it on the server. */
  async download(uuid: string): Promise<Uint8Array> {
    const info = await this.unary(this.binaryRpc('BinaryDownload', 'GetBinaryInfo', 'GetBinaryInfoRequest', 'GetBinaryInfoResponse', false), { binaryTransferUUID: uuid }, {}, undefined, true);
    const size = Number(info.binarySize);
    const requests = [];
    for (let offset = 0; offset < size; offset += MAX_INLINE_BINARY) requests.push({ binaryTransferUUID: uuid, offset, length: Math.min(MAX_INLINE_BINARY, size - offset) });
    const responses = await this.bidi(this.binaryRpc('BinaryDownload', 'GetChunk', 'GetChunkRequest', 'GetChunkResponse', true), requests);
    const bytes = Buffer.alloc(size);
    for (const r of responses) Buffer.from(r.payload).copy(bytes, Number(r.offset));
    await this.unary(this.binaryRpc('BinaryDownload', 'DeleteBinary', 'DeleteBinaryRequest', 'DeleteBinaryResponse', false), { binaryTransferUUID: uuid }, {}, undefined, true).catch(() => undefined);
    return bytes;
  }

  private bidi(rpc: RpcDefinition, requests: object[]): Promise<any[]> {
    const definition = methodDefinition(rpc);
    return new Promise((resolve, reject) => {
      const call = this.grpcClient.makeBidiStreamRequest(rpc.path, definition.requestSerialize, definition.responseDeserialize, new grpc.Metadata(), {
        deadline: Date.now() + (this.options.callTimeoutMs ?? 30_000) * Math.max(1, requests.length),
      });
      const responses: any[] = [];
      call.on('data', (r) => {
        responses.push(r);
        if (responses.length === requests.length) call.end();
      });
      call.on('error', (error: grpc.ServiceError) => reject(error.code === grpc.status.ABORTED ? fromGrpcError(error, true) : fromGrpcError(error)));
      call.on('end', () => (responses.length === requests.length ? resolve(responses) : reject(new BinaryTransferError('BINARY_UPLOAD_FAILED', `the server answered ${responses.length} of ${requests.length} chunks`))));
      for (const request of requests) call.write(request);
    });
  }
}

/** One execution of an observable command: iterate it for Info and Intermediate updates, await result(). */
export class CommandExecution implements AsyncIterable<ExecutionUpdate> {
  constructor(
    private readonly client: SilaClient,
    private readonly handle: FeatureHandle,
    readonly command: Command,
    readonly uuid: string,
  ) {}

  /**
   * Execution info until the command finishes; re-attaches by UUID if the connection drops. After the
   * final status it waits briefly for the server to end the stream rather than cancelling it.
   */
  async *info(signal?: AbortSignal): AsyncGenerator<ExecutionInfo> {
    const rpc = this.handle.proto.rpcs.get(`${this.command.identifier}_Info`)!;
    const lingering = new AbortController();
    const forward = () => lingering.abort();
    signal?.addEventListener('abort', forward, { once: true });
    if (signal?.aborted) lingering.abort();
    let timer: NodeJS.Timeout | undefined;
    try {
      const stop = lingering.signal;
      let finished = false;
      for await (const message of this.client.resilientStream(rpc, { value: this.uuid }, this.client.metadata(undefined), stop, true)) {
        if (finished) continue;
        const info = readInfo(message);
        finished = info.status === 'finishedSuccessfully' || info.status === 'finishedWithError';
        if (finished) timer = setTimeout(() => lingering.abort(), STREAM_END_GRACE_MS);
        yield info;
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', forward);
    }
  }

  /** Resolves when the execution has finished (either way), following its Info stream. */
  private async finished(signal?: AbortSignal): Promise<void> {
    const rpc = this.handle.proto.rpcs.get(`${this.command.identifier}_Info`)!;
    let timer: NodeJS.Timeout | undefined;
    const lingering = new AbortController();
    const forward = () => lingering.abort();
    signal?.addEventListener('abort', forward, { once: true });
    try {
      await this.client.follow(rpc, { value: this.uuid }, this.client.metadata(undefined), lingering.signal, true, (message) => {
        const status = STATUS_NAMES[message.commandStatus as number];
        if ((status === 'finishedSuccessfully' || status === 'finishedWithError') && !timer) timer = setTimeout(() => lingering.abort(), STREAM_END_GRACE_MS);
      });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', forward);
    }
    if (signal?.aborted) throw new SilaConnectionError('stopped waiting for the execution to finish', grpc.status.CANCELLED);
  }

  /** Intermediate responses as they come, until the command finishes. */
  async *intermediates(signal?: AbortSignal): AsyncGenerator<Record<string, SilaValue>> {
    const rpc = this.handle.proto.rpcs.get(`${this.command.identifier}_Intermediate`);
    if (!rpc) return;
    for await (const message of this.client.resilientStream(rpc, { value: this.uuid }, this.client.metadata(undefined), signal, true)) {
      yield await this.client.decodeItems(this.handle, this.command.intermediateResponses, message);
    }
  }

  /** Info and intermediate responses merged, in arrival order, until the command finishes. */
  async *[Symbol.asyncIterator](): AsyncIterator<ExecutionUpdate> {
    const stop = new AbortController();
    const mailbox = new Mailbox<ExecutionUpdate>();
    const intermediates = (async () => {
      for await (const responses of this.intermediates(stop.signal)) mailbox.push({ kind: 'intermediate', responses });
    })().catch(() => undefined);
    const infos = (async () => {
      for await (const info of this.info(stop.signal)) mailbox.push({ kind: 'info', ...info });
    })().then(
      async () => {
        // The server ends the intermediate stream when the command finishes; give it the chance.
        const grace = setTimeout(() => stop.abort(), STREAM_END_GRACE_MS);
        await intermediates;
        clearTimeout(grace);
        mailbox.close();
      },
      (error) => mailbox.close(error),
    );
    try {
      yield* mailbox.drain();
    } finally {
      stop.abort();
      await Promise.allSettled([intermediates, infos]);
    }
  }

  /** Waits for the command to finish and returns its responses, or throws the error it finished with. */
  async result(options: CallOptions = {}): Promise<Record<string, SilaValue>> {
    await this.finished(options.signal);
    const rpc = this.handle.proto.rpcs.get(`${this.command.identifier}_Result`)!;
    const response = await this.client.unary(rpc, { value: this.uuid }, { timeoutMs: options.timeoutMs, signal: options.signal });
    return this.client.decodeItems(this.handle, this.command.responses, response);
  }
}

/** Producers push, one consumer drains with for-await; closing ends the drain, or fails it with an error. */
class Mailbox<T> {
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

function readInfo(message: any): ExecutionInfo {
  const seconds = (d: { seconds: unknown; nanos: number } | null | undefined) => (d ? Number(d.seconds) + d.nanos / 1e9 : undefined);
  return {
    status: STATUS_NAMES[message.commandStatus as number] ?? 'waiting',
    progress: message.progressInfo?.value,
    estimatedRemainingSeconds: seconds(message.estimatedRemainingTime),
    updatedLifetimeSeconds: seconds(message.updatedLifetimeOfExecution),
  };
}

/**
 * Opens one TLS (or TCP) connection before gRPC does, because gRPC reports every handshake failure as
 * "unavailable". Returns the server certificate (DER) when TLS is used.
 */
async function preflight(options: SilaClientOptions): Promise<Buffer | undefined> {
  const where = `${options.host}:${options.port}`;
  const timeout = options.connectTimeoutMs ?? 5000;
  const attempt = (verify: boolean) =>
    new Promise<{ certificate: Buffer } | { error: NodeJS.ErrnoException }>((resolve) => {
      const socket = tlsConnect({
        host: options.host,
        port: options.port,
        servername: isIP(options.host) ? undefined : options.host,
        ca: verify ? options.ca : undefined,
        rejectUnauthorized: verify,
        checkServerIdentity: silaServerIdentity,
        ALPNProtocols: ['h2'],
      });
      const timer = setTimeout(() => socket.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), timeout);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        const certificate = socket.getPeerCertificate(false).raw;
        socket.destroy();
        resolve({ certificate });
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        resolve({ error });
      });
    });

  if (options.insecure) {
    const probe = await attempt(false);
    if ('certificate' in probe) {
      throw new TransportSecurityError(`the server at ${where} requires TLS; refusing to talk plain text to it. Trust its certificate instead (--ca FILE)`, grpc.status.UNAVAILABLE);
    }
    if (probe.error.code === 'ECONNREFUSED') throw new SilaConnectionError(`nothing is listening at ${where}`, grpc.status.UNAVAILABLE);
    return undefined;
  }
  const probe = await attempt(true);
  if ('certificate' in probe) return probe.certificate;
  const { error } = probe;
  if (error.code === 'ECONNREFUSED') throw new SilaConnectionError(`nothing is listening at ${where}`, grpc.status.UNAVAILABLE);
  if (error.code === 'ETIMEDOUT') throw new SilaConnectionError(`no answer from ${where} within ${timeout} ms`, grpc.status.DEADLINE_EXCEEDED);
  if (error.code && CERTIFICATE_ERRORS.has(error.code)) {
    throw new UntrustedCertificateError(
      `the certificate of ${where} is not trusted (${error.code}: ${error.message}). Pass the server's CA certificate (--ca FILE); untrusted certificates are never accepted silently`,
      grpc.status.UNAUTHENTICATED,
    );
  }
  throw new TransportSecurityError(`no TLS handshake with ${where} (${error.code ?? error.message}); the server may be running without TLS, which SiLA 2 allows only for testing (--insecure)`, grpc.status.UNAVAILABLE);
}

/** Enough of SiLAService to bootstrap: the full definition is then fetched from the server itself. */
const SILA_SERVICE_BOOTSTRAP = `<?xml version="1.0" encoding="utf-8"?>
<Feature xmlns="http://www.sila-standard.org" SiLA2Version="1.0" FeatureVersion="1.0" Originator="org.silastandard" Category="core">
  <Identifier>SiLAService</Identifier><DisplayName>SiLA Service</DisplayName><Description>Bootstrap</Description>
  <Command><Identifier>GetFeatureDefinition</Identifier><DisplayName>Get Feature Definition</DisplayName><Description>-</Description><Observable>No</Observable>
    <Parameter><Identifier>FeatureIdentifier</Identifier><DisplayName>Feature Identifier</DisplayName><Description>-</Description><DataType><Basic>String</Basic></DataType></Parameter>
    <Response><Identifier>FeatureDefinition</Identifier><DisplayName>Feature Definition</DisplayName><Description>-</Description><DataType><Basic>String</Basic></DataType></Response>
  </Command>
  ${['ServerName', 'ServerType', 'ServerUUID', 'ServerDescription', 'ServerVersion', 'ServerVendorURL']
    .map((p) => `<Property><Identifier>${p}</Identifier><DisplayName>${p}</DisplayName><Description>-</Description><Observable>No</Observable><DataType><Basic>String</Basic></DataType></Property>`)
    .join('')}
  <Property><Identifier>ImplementedFeatures</Identifier><DisplayName>Implemented Features</DisplayName><Description>-</Description><Observable>No</Observable><DataType><List><DataType><Basic>String</Basic></DataType></List></DataType></Property>
</Feature>`;

