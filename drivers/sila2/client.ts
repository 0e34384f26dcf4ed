/**
 * A SiLA 2 client that needs no prior knowledge of the server: it reads SiLAService, fetches every
 * feature definition, derives the protobuf types at run time, and calls commands and properties by name
 * with plain values. It sends metadata only to the calls it affects, holds a server's lock
 * (LockController) across calls, and uses the other core features through `core`.
 */
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ValueCodec, MAX_INLINE_BINARY } from './codec.ts';
import { BinaryTransferClient } from './client-binary.ts';
import { ClientMetadata, WAIT_FOR_READY } from './client-metadata.ts';
import { ClientTransport } from './client-transport.ts';
import type { CallOptions, ExecutionHost, FeatureHandle } from './client-types.ts';
import type { StreamEnd } from './client-streams.ts';
import { CommandExecution } from './command-execution.ts';
import { HeldLock, type LockHost, type LockOptions } from './core/client-lock.ts';
import { CoreFeatureClient } from './core/core-client.ts';
import { CORE_FEATURES } from './core/features.ts';
import { DefinedExecutionError, SilaConnectionError, ValidationError } from './errors.ts';
import { parseFeature } from './fdl.ts';
import { fqi, sameFqi, type Command, type Feature, type Parameter } from './feature.ts';
import { preflight, silaServerIdentity, UntrustedCertificateError } from './preflight.ts';
import { deriveFeatureProto, frameworkRoot, type RpcDefinition } from './proto.ts';
import { serverUuidFromCertificate } from './tls.ts';
import { BinaryRef, type SilaValue } from './values.ts';
import type { ServerIdentity } from './server.ts';
import { WALL_CLOCK, type Clock } from '../clock.ts';

export { CommandExecution } from './command-execution.ts';
export { TransportSecurityError, UntrustedCertificateError } from './preflight.ts';
export type { CallOptions, CommandStatus, ExecutionInfo, ExecutionUpdate } from './client-types.ts';
export type { HeldLock, LockOptions } from './core/client-lock.ts';

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
  /** The clock of deadlines, reconnection and lock renewal; the wall clock by default. */
  clock?: Clock;
}

const INVALID_LOCK_IDENTIFIER = `${CORE_FEATURES.LockController}/DefinedExecutionError/InvalidLockIdentifier`;

export class SilaClient implements ExecutionHost {
  private handles: FeatureHandle[] = [];
  /** Handles by the reference callers use (asked on every call, so remembered). */
  private readonly handlesByReference = new Map<string, FeatureHandle>();
  private root = frameworkRoot();
  identity!: ServerIdentity & { implementedFeatures: string[] };
  /** The server UUID in the server's certificate, when it carries one. */
  certificateServerUuid: string | undefined;
  /** Cancel, pause, error recovery and simulation mode, where the server offers them. */
  readonly core = new CoreFeatureClient(this);
  private readonly meta = new ClientMetadata(
    () => this.handles,
    (feature, metadata) => this.affectedCalls(feature, metadata),
  );
  private readonly transport: ClientTransport;
  private readonly binaries: BinaryTransferClient;
  readonly clock: Clock;

  private constructor(grpcClient: grpc.Client, readonly options: SilaClientOptions) {
    this.clock = options.clock ?? WALL_CLOCK;
    this.transport = new ClientTransport(grpcClient, options, options.reconnectTimeoutMs ?? 60_000, options.callTimeoutMs ?? 30_000, this.clock);
    this.binaries = new BinaryTransferClient(grpcClient, this.root, options.callTimeoutMs ?? 30_000, (rpc, request) => this.unary(rpc, request, {}, undefined, true));
  }

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
      client.transport.watch();
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  /** Closes the connection; a lock held stays with the server until it times out (or is reclaimed after a restart). */
  close(): void {
    this.meta.lock?.abandon();
    this.transport.close();
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
    this.handlesByReference.clear();
    this.root = frameworkRoot();
    for (const feature of features) this.addFeature(feature);
  }

  private addFeature(feature: Feature): void {
    const proto = deriveFeatureProto(feature, this.root);
    const members = new Map<string, string | null>();
    for (const c of feature.commands) members.set(c.identifier, fqi.command(feature, c.identifier));
    for (const p of feature.properties) members.set(`${p.observable ? 'Subscribe' : 'Get'}_${p.identifier}`, fqi.property(feature, p.identifier));
    this.handles.push({ feature, proto, codec: new ValueCodec(feature, this.root), members });
  }

  /** A feature by identifier ('GreetingProvider') or fully qualified identifier. */
  feature(reference: string): Feature {
    return this.handle(reference).feature;
  }

  private handle(reference: string): FeatureHandle {
    let handle = this.handlesByReference.get(reference);
    if (!handle) this.handlesByReference.set(reference, (handle = this.findHandle(reference)));
    return handle;
  }

  private findHandle(reference: string): FeatureHandle {
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
  call(featureRef: string, commandId: string, parameters: Record<string, SilaValue> = {}, options: CallOptions = {}): Promise<Record<string, SilaValue>> {
    try {
      const handle = this.handle(featureRef);
      const command = this.command(handle, commandId);
      if (command.observable) return this.start(featureRef, commandId, parameters, options).then((execution) => execution.result(options));
      // Without async/await: an unobservable call is one round trip, and every promise hop shows.
      const encoded = this.encodeParameters(handle, command, parameters);
      if (encoded instanceof Promise) return encoded.then((request) => this.callUnobservable(handle, command, request, options));
      return this.callUnobservable(handle, command, encoded, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private callUnobservable(handle: FeatureHandle, command: Command, request: Record<string, unknown>, options: CallOptions): Promise<Record<string, SilaValue>> {
    return this.unary(handle.proto.rpcs.get(command.identifier)!, request, options, handle).then((response) => this.decodeItems(handle, command.responses, response));
  }

  /** Starts an observable command; the execution can be followed and its result awaited. */
  async start(featureRef: string, commandId: string, parameters: Record<string, SilaValue> = {}, options: CallOptions = {}): Promise<CommandExecution> {
    const handle = this.handle(featureRef);
    const command = this.command(handle, commandId);
    if (!command.observable) throw new Error(`${commandId} is not observable; use call()`);
    const encoded = this.encodeParameters(handle, command, parameters);
    const request = encoded instanceof Promise ? await encoded : encoded;
    const confirmation = (await this.unary(handle.proto.rpcs.get(commandId)!, request, options, handle)) as { commandExecutionUUID: { value: string }; lifetimeOfExecution?: { seconds: unknown; nanos: number } | null };
    const lifetime = confirmation.lifetimeOfExecution;
    return new CommandExecution(this, handle, command, confirmation.commandExecutionUUID.value, lifetime ? Number(lifetime.seconds) + lifetime.nanos / 1e9 : undefined);
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

  /** Values of an observable property as they change; survives server restarts until cancelled; ends with the server's SiLA error if it sends one. */
  subscribe(featureRef: string, propertyId: string, options: CallOptions = {}): AsyncIterable<SilaValue> {
    const handle = this.handle(featureRef);
    const property = handle.feature.properties.find((p) => p.identifier === propertyId);
    if (!property) throw new Error(`feature ${handle.feature.identifier} has no property '${propertyId}'`);
    if (!property.observable) throw new Error(`property ${propertyId} is not observable; use get()`);
    const rpc = handle.proto.rpcs.get(`Subscribe_${propertyId}`)!;
    const client = this;
    return {
      async *[Symbol.asyncIterator]() {
        const metadata = await client.meta.with(handle, rpc.name, options.metadata);
        for await (const message of client.transport.stream(rpc, {}, metadata, options.signal, false)) {
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

  // --- the server's lock ----------------------------------------------------------------------

  /**
   * Locks the server (LockController) for this client: from now on every call the server protects
   * carries the lock identifier, and the lock is renewed while the client is idle, until released.
   */
  async lock(options: LockOptions): Promise<HeldLock> {
    if (this.meta.lock?.active) throw new Error(`this client holds the lock ${this.meta.lock.lockId} of the server already`);
    if (!this.core.has('LockController')) throw new Error(`the server at ${this.options.host}:${this.options.port} does not implement LockController, so it cannot be locked`);
    const lockId = options.lockId ?? randomUUID();
    const client = this;
    const host: LockHost = {
      clock: this.clock,
      get features() {
        return client.features;
      },
      call: (feature, command, parameters) => this.call(feature, command, parameters),
      get: (feature, property) => this.get(feature, property),
      affectedCalls: (feature, metadata) => this.affectedCalls(feature, metadata),
      lockEnded: (ended) => this.meta.lockEnded(ended),
    };
    const lock = await HeldLock.acquire(host, lockId, options);
    this.meta.useLock(lock, this.handle(CORE_FEATURES.LockController));
    return lock;
  }

  /** The lock this client holds on the server, if any. */
  get heldLock(): HeldLock | undefined {
    return this.meta.lock;
  }

  // --- plumbing -----------------------------------------------------------------------------

  /** @internal metadata with the given values, whatever the calls they affect (for tests of servers). */
  metadata(values: Record<string, SilaValue>): grpc.Metadata {
    return this.meta.all(values);
  }

  /** @internal */
  unary(rpc: RpcDefinition, request: object, options: CallOptions, handle?: FeatureHandle, binaryTransfer = false): Promise<any> {
    if (options.metadata && handle) return this.meta.with(handle, rpc.name, options.metadata).then((metadata) => this.send(rpc, request, options, metadata, binaryTransfer));
    return this.send(rpc, request, options, this.meta.base(handle, rpc.name), binaryTransfer);
  }

  private send(rpc: RpcDefinition, request: object, options: CallOptions, metadata: grpc.Metadata, binaryTransfer: boolean): Promise<any> {
    const sent = this.transport.unary(rpc, request, metadata, { timeoutMs: options.timeoutMs, signal: options.signal, binaryTransfer });
    if (!this.meta.carriesLock(metadata)) return sent;
    return sent.catch((error: unknown) => {
      // The server refused the lock identifier: another client holds the server now.
      if (error instanceof DefinedExecutionError && sameFqi(error.errorIdentifier, INVALID_LOCK_IDENTIFIER)) this.meta.lock?.refused(error);
      throw error;
    });
  }

  /** @internal Follows a server stream through reconnections (see followStream). */
  follow(rpc: RpcDefinition, request: object, signal: AbortSignal | undefined, endsNormally: StreamEnd, onMessage: (message: any) => void | 'stop' | 'last'): Promise<void> {
    return this.transport.follow(rpc, request, WAIT_FOR_READY, signal, endsNormally, onMessage);
  }

  /** @internal The messages of follow() as an async iterable. */
  stream(rpc: RpcDefinition, request: object, signal: AbortSignal | undefined, endsNormally: StreamEnd, isLast?: (message: any) => boolean): AsyncGenerator<any> {
    return this.transport.stream(rpc, request, WAIT_FOR_READY, signal, endsNormally, isLast);
  }

  /** The request message; only parameters that may hold a binary over 2 MiB need the (asynchronous) upload first. */
  private encodeParameters(handle: FeatureHandle, command: Command, parameters: Record<string, SilaValue>): Record<string, unknown> | Promise<Record<string, unknown>> {
    if (!command.parameters.some((p) => handle.codec.mayContainBinary(p.dataType))) return this.encodeRequest(handle, command, parameters);
    return (async () => {
      const uploaded: Record<string, SilaValue> = { ...parameters };
      for (const parameter of command.parameters) {
        const value = parameters[parameter.identifier];
        if (value === undefined || !handle.codec.mayContainBinary(parameter.dataType)) continue;
        const parameterFqi = fqi.parameter(handle.feature, command.identifier, parameter.identifier);
        uploaded[parameter.identifier] = await handle.codec.mapBinaries(parameter.dataType, value, async (b) => (b instanceof Uint8Array && b.length > MAX_INLINE_BINARY ? this.binaries.upload(b, parameterFqi) : b));
      }
      return this.encodeRequest(handle, command, uploaded);
    })();
  }

  private encodeRequest(handle: FeatureHandle, command: Command, parameters: Record<string, SilaValue>): Record<string, unknown> {
    const request: Record<string, unknown> = {};
    for (const parameter of command.parameters) {
      const value = parameters[parameter.identifier];
      if (value === undefined) throw new ValidationError(fqi.parameter(handle.feature, command.identifier, parameter.identifier), `parameter ${parameter.identifier} is missing`);
      try {
        request[parameter.identifier] = handle.codec.encode(parameter.dataType, value, parameter.identifier);
      } catch (error) {
        throw new ValidationError(fqi.parameter(handle.feature, command.identifier, parameter.identifier), (error as Error).message);
      }
    }
    // Every parameter is there (checked above), so more keys than parameters means unknown ones.
    const given = Object.keys(parameters);
    if (given.length > command.parameters.length) {
      const unknown = given.filter((p) => !command.parameters.some((x) => x.identifier === p));
      throw new Error(`${command.identifier} has no parameter ${unknown.join(', ')}; it takes ${command.parameters.map((p) => p.identifier).join(', ') || 'none'}`);
    }
    return request;
  }

  /** @internal Plain values of received items; only items that may hold a binary sent by reference need the (asynchronous) download. */
  decodeItems(handle: FeatureHandle, items: readonly Parameter[], message: Record<string, unknown>): Record<string, SilaValue> | Promise<Record<string, SilaValue>> {
    const values: Record<string, SilaValue> = {};
    let downloads: Promise<void>[] | undefined;
    for (const item of items) {
      const value = handle.codec.decode(item.dataType, message[item.identifier], item.identifier, false);
      values[item.identifier] = value;
      if (handle.codec.mayContainBinary(item.dataType)) {
        (downloads ??= []).push(
          handle.codec.mapBinaries(item.dataType, value, async (b) => (b instanceof BinaryRef ? this.binaries.download(b.binaryTransferUUID) : b)).then((downloaded) => {
            values[item.identifier] = downloaded;
          }),
        );
      }
    }
    return downloads ? Promise.all(downloads).then(() => values) : values;
  }

  /** Uploads a large binary for a command parameter; returns the reference to send instead. */
  upload(bytes: Uint8Array, parameterFqi: string): Promise<BinaryRef> {
    return this.binaries.upload(bytes, parameterFqi);
  }

  /** Downloads a binary the server offers by reference, then frees it on the server. */
  download(uuid: string): Promise<Uint8Array> {
    return this.binaries.download(uuid);
  }
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

