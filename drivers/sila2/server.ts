/**
 * A SiLA 2 server. Features are implemented with handlers that take and return plain values; the server
 * does the SiLA part: validation, the observable command lifecycle, errors, metadata, the SiLAService
 * feature and the core features it is asked for (core/), binary transfer, and TLS (a self-signed
 * certificate unless one is given; plain text only when `insecure` is set).
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { BinaryStore } from './binary-store.ts';
import { ValueCodec } from './codec.ts';
import { DefinedExecutionError, FrameworkError, UndefinedExecutionError } from './errors.ts';
import { parseFeature, readFeatureFile } from './fdl.ts';
import { featureFqi, fqi, sameFqi, type Command, type Feature } from './feature.ts';
import { duration, methodDefinition } from './grpc-methods.ts';
import { ObservableProperty } from './observable-property.ts';
import { deriveFeatureProto, frameworkRoot, type FeatureProto } from './proto.ts';
import { announce, type DiscoveryTransport, type SilaAnnouncement } from './discovery.ts';
import { addBinaryTransferServices } from './server-binary.ts';
import { ExecutionRegistry, type ExecutionControls, type ServerExecution } from './server-executions.ts';
import { FeatureHandlers, asSilaError, type FeatureEntry } from './server-handlers.ts';
import { addCoreFeatures, type CoreFeatureOptions } from './core/server-core.ts';
import type { RecoverableErrors } from './core/error-recovery.ts';
import type { CallContext, CommandContext, ContinuationChoice, FeatureImplementation, RecoverableErrorSpec } from './server-types.ts';
import { coreFeatureFile } from './core/features.ts';
import { assertKeyMatchesCertificate, createSelfSignedCertificate, type TlsMaterial } from './tls.ts';
import type { SilaValue } from './values.ts';
import { WALL_CLOCK, type Clock } from '../clock.ts';

export { ObservableProperty } from './observable-property.ts';
export { duration, methodDefinition } from './grpc-methods.ts';
export type { ExecutionControls } from './server-executions.ts';
export type { CoreFeatureOptions } from './core/server-core.ts';
export type { CommandHandler, MetadataRule, PropertyGetter, PropertyStream, ContinuationOption } from './server-types.ts';
export type { CallContext, CommandContext, ContinuationChoice, FeatureImplementation, RecoverableErrorSpec };

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
  /** Certificate and key; without them a self-signed certificate is made for this server's UUID at its first start. */
  tls?: TlsMaterial;
  /** Plain-text gRPC, for testing only: SiLA 2 requires TLS. */
  insecure?: boolean;
  /** How long an observable command's execution UUID stays valid, in seconds (default: 1 day); extended while it runs. */
  executionLifetimeSeconds?: number;
  /** How long an uploaded or downloadable binary is kept, in seconds (default: 10 min). */
  binaryLifetimeSeconds?: number;
  /** The standard's core features to offer besides SiLAService. */
  coreFeatures?: CoreFeatureOptions;
  /** The clock of execution and binary lifetimes, lock and error-handling timeouts; the wall clock by default. */
  clock?: Clock;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class SilaServer {
  readonly identity: ServerIdentity;
  private readonly root = frameworkRoot();
  private readonly entries: FeatureEntry[] = [];
  /** @internal the executions of every observable command, for the core features. */
  readonly executions: ExecutionRegistry<FeatureEntry>;
  private readonly binaries: BinaryStore;
  private readonly grpcServer = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024, 'grpc.max_send_message_length': 16 * 1024 * 1024 });
  /** Ends every open stream when the server stops; each open stream listens to it (often more than ten). */
  private readonly abort = unboundedAbortController();
  private readonly handlers: FeatureHandlers;
  private tls: TlsMaterial | undefined;
  private boundPort: number | undefined;
  private recovery: RecoverableErrors | undefined;

  private get clock(): Clock {
    return this.options.clock ?? WALL_CLOCK;
  }

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
    this.executions = new ExecutionRegistry(options.executionLifetimeSeconds ?? 86_400, this.clock);
    this.binaries = new BinaryStore(options.binaryLifetimeSeconds ?? 600, this.clock);
    if (!options.insecure && options.tls) {
      assertKeyMatchesCertificate(options.tls);
      this.tls = options.tls;
    }
    this.handlers = new FeatureHandlers(this.entries, this.abort.signal, this.binaries, (entry, command, parameters, context) => this.startObservable(entry, command, parameters, context));
    this.addFeature(readFeatureFile(coreFeatureFile('SiLAService')), this.silaServiceImplementation());
    this.recovery = addCoreFeatures(
      { clock: this.clock, executions: this.executions, features: () => this.features, addFeature: (feature, implementation) => this.addFeature(feature, implementation) },
      options.coreFeatures ?? {},
    );
    addBinaryTransferServices(this.grpcServer, this.root, this.binaries, (parameter) => this.isBinaryParameter(parameter));
  }

  /** The certificate clients should trust (the CA of a self-signed server); undefined in insecure mode. */
  get certificatePem(): string | undefined {
    if (this.options.insecure) return undefined;
    if (!this.tls) throw new Error('the server has not been started: its self-signed certificate is made at the first start');
    return this.tls.certificatePem;
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
    const proto: FeatureProto = deriveFeatureProto(parsed, this.root);
    const entry: FeatureEntry = { feature: parsed, proto, codec: new ValueCodec(parsed, this.root), implementation, isSilaService: parsed.identifier === 'SiLAService' && parsed.originator === 'org.silastandard' };
    this.entries.push(entry);
    this.grpcServer.addService(Object.fromEntries([...proto.rpcs.values()].map((rpc) => [rpc.name, methodDefinition(rpc)])), this.handlers.forFeature(entry, this.executions));
    return this;
  }

  async start(): Promise<this> {
    // Made once: a restarted server keeps the certificate its clients already trust.
    if (!this.options.insecure) this.tls ??= await createSelfSignedCertificate({ serverUuid: this.identity.uuid, hosts: this.options.host ? [this.options.host] : [] });
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
      const timer = this.clock.setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, graceMs);
      this.grpcServer.tryShutdown(() => {
        this.clock.clearTimeout(timer);
        resolve();
      });
    });
  }

  // --- observable commands ------------------------------------------------------------------

  private startObservable(entry: FeatureEntry, command: Command, request: Record<string, unknown>, context: CallContext): unknown {
    const key = entry.implementation.idempotencyKey?.(context);
    if (key !== undefined) {
      const started = this.executions.startedWithKey(key);
      if (started === 'expired') throw new FrameworkError('COMMAND_EXECUTION_NOT_ACCEPTED', `the execution started with idempotency key '${key}' has expired; it is not run again`);
      if (started) return { commandExecutionUUID: { value: started.uuid }, lifetimeOfExecution: duration(this.executions.lifetimeLeft(started)) };
    }
    const parameters = this.handlers.readParameters(entry, command, request);
    const refusal = entry.implementation.admit?.[command.identifier]?.(parameters, context);
    if (refusal !== undefined) throw new FrameworkError('COMMAND_EXECUTION_NOT_ACCEPTED', refusal);
    const execution = this.executions.start(entry, command, this.handlers.commandFqi(entry, command), key);
    const commandContext = new ObservableContext(context, execution, this.handlers, entry, this.recovery);
    execution.status = 'running';
    // The handler runs on after the confirmation is sent; its outcome is kept for C_Result.
    queueMicrotask(() => void this.run(entry, command, execution, parameters, commandContext));
    return { commandExecutionUUID: { value: execution.uuid }, lifetimeOfExecution: duration(this.executions.lifetimeLeft(execution)) };
  }

  private async run(entry: FeatureEntry, command: Command, execution: ServerExecution<FeatureEntry>, parameters: Record<string, SilaValue>, context: CommandContext): Promise<void> {
    try {
      const result = await entry.implementation.commands![command.identifier]!(parameters, context);
      execution.responses = this.handlers.encodeResponses(entry, command.responses, result);
      execution.status = 'finishedSuccessfully';
    } catch (error) {
      execution.error = execution.cancellation ? cancelled(execution.commandFqi, execution.cancellation, error) : asSilaError(error, entry, command);
      execution.status = 'finishedWithError';
    } finally {
      this.executions.finish(execution);
    }
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

  private isBinaryParameter(parameterFqi: string): boolean {
    return this.entries.some((entry) =>
      entry.feature.commands.some((command) =>
        command.parameters.some((p) => sameFqi(fqi.parameter(entry.feature, command.identifier, p.identifier), parameterFqi) && entry.codec.mayContainBinary(p.dataType)),
      ),
    );
  }
}

/**
 * What an observable command's handler gets. A class rather than closures: this is made at every start.
 * Its methods are called as methods (`context.progress(...)`).
 */
class ObservableContext implements CommandContext {
  readonly metadata: Record<string, SilaValue>;
  readonly signal: AbortSignal;
  readonly executionUuid: string;

  constructor(
    context: CallContext,
    private readonly execution: ServerExecution<FeatureEntry>,
    private readonly handlers: FeatureHandlers,
    private readonly entry: FeatureEntry,
    private readonly recovery: RecoverableErrors | undefined,
  ) {
    this.metadata = context.metadata;
    this.signal = context.signal;
    this.executionUuid = execution.uuid;
  }

  progress(fraction: number, remainingSeconds?: number): void {
    const execution = this.execution;
    if (execution.finished) return;
    execution.progress = Math.min(1, Math.max(0, fraction));
    execution.remainingSeconds = remainingSeconds;
    execution.notify();
  }

  intermediate(responses: Record<string, SilaValue>): void {
    if (this.execution.finished) return;
    const message = this.handlers.encodeResponses(this.entry, this.execution.command.intermediateResponses, responses);
    for (const listener of this.execution.intermediates) listener(message);
  }

  controls(controls: ExecutionControls): void {
    this.execution.controls = controls;
  }

  recoverableError(error: RecoverableErrorSpec): Promise<ContinuationChoice | undefined> {
    return this.recovery && !this.execution.finished ? this.recovery.raise(this.execution, this.entry.feature, error) : Promise.resolve(undefined);
  }
}

/** The outcome of a cancelled execution, whatever its handler ended with (CancelController). */
function cancelled(commandFqi: string, reason: string, error: unknown): UndefinedExecutionError {
  const detail = error instanceof Error && error.message ? `; the device said: ${error.message}` : '';
  return new UndefinedExecutionError(`${commandFqi.split('/').at(-1)} was cancelled: ${reason}${detail}`);
}

function unboundedAbortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
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
