/**
 * The gRPC handlers of a feature on the server: metadata read and checked per call, unobservable
 * commands, the Info / Intermediate / Result streams of observable commands, properties, and every
 * failure turned into the SiLA error the client receives.
 */
import * as grpc from '@grpc/grpc-js';
import type { BinaryStore } from './binary-store.ts';
import { CodecError, type ValueCodec } from './codec.ts';
import { DefinedExecutionError, FrameworkError, SilaError, UndefinedExecutionError, toGrpcStatus } from './errors.ts';
import { featureFqi, fqi, metadataHeader, sameFqi, type Command, type Feature, type Metadata, type Parameter } from './feature.ts';
import { duration } from './grpc-methods.ts';
import { ObservableProperty } from './observable-property.ts';
import type { FeatureProto } from './proto.ts';
import { encodeResponses, readParameters } from './server-values.ts';
import { STATUS_NUMBER, type ExecutionRegistry, type ServerExecution } from './server-executions.ts';
import type { CallContext, CommandContext, FeatureImplementation, PropertyGetter, PropertyStream } from './server-types.ts';
import type { SilaValue } from './values.ts';

export interface FeatureEntry {
  feature: Feature;
  proto: FeatureProto;
  codec: ValueCodec;
  implementation: FeatureImplementation;
  isSilaService: boolean;
}

type Executions = ExecutionRegistry<FeatureEntry>;
type StartObservable = (entry: FeatureEntry, command: Command, request: Record<string, unknown>, context: CallContext) => unknown;
interface RequiredMetadata {
  owner: FeatureEntry;
  metadata: Metadata;
  header: string;
}

const NO_METADATA: Record<string, SilaValue> = Object.freeze({}) as Record<string, SilaValue>;
const ignore = () => {};
const noRecovery = async () => undefined;

export class FeatureHandlers {
  /** Per call (fully qualified identifier): the metadata it may need. Features are fixed once the server runs. */
  private readonly requiredMetadataCache = new Map<string, RequiredMetadata[]>();
  private readonly commandFqis = new WeakMap<Command, string>();
  /** The contexts of calls that carry no metadata (most), made once instead of at every call. */
  private readonly bare: CallContext;
  private readonly bareCommand: CommandContext;

  constructor(
    private readonly entries: readonly FeatureEntry[],
    private readonly signal: AbortSignal,
    private readonly binaries: BinaryStore,
    private readonly startObservable: StartObservable,
  ) {
    this.bare = Object.freeze({ metadata: NO_METADATA, signal });
    this.bareCommand = Object.freeze(unobservable(this.bare));
  }

  private context(entry: FeatureEntry, member: string | null, headers: grpc.Metadata): CallContext {
    const metadata = this.readMetadata(entry, member, headers);
    return metadata === NO_METADATA ? this.bare : { metadata, signal: this.signal };
  }

  /** A command's fully qualified identifier (asked at every start, so remembered). */
  commandFqi(entry: FeatureEntry, command: Command): string {
    let id = this.commandFqis.get(command);
    if (id === undefined) this.commandFqis.set(command, (id = fqi.command(entry.feature, command.identifier)));
    return id;
  }

  readParameters(entry: FeatureEntry, command: Command, request: Record<string, unknown>): Record<string, SilaValue> {
    return readParameters(entry.feature, entry.codec, this.binaries, command, request);
  }

  encodeResponses(entry: FeatureEntry, items: readonly Parameter[], values: Record<string, SilaValue> | void): Record<string, unknown> {
    return encodeResponses(entry.codec, this.binaries, items, values);
  }

  forFeature(entry: FeatureEntry, executions: Executions): grpc.UntypedServiceImplementation {
    const handlers: grpc.UntypedServiceImplementation = {};
    const { feature } = entry;
    for (const command of feature.commands) {
      const id = command.identifier;
      const commandFqi = this.commandFqi(entry, command);
      if (!command.observable) {
        const handler = entry.implementation.commands![id]!;
        handlers[id] = this.unary(entry, commandFqi, (request, context) => {
          const result = handler(this.readParameters(entry, command, request), context === this.bare ? this.bareCommand : unobservable(context));
          return result instanceof Promise ? result.then((values) => this.encodeResponses(entry, command.responses, values)) : this.encodeResponses(entry, command.responses, result);
        });
        continue;
      }
      const find = (request: { value?: string } | null) => executions.find(entry, command, request?.value ?? '', commandFqi);
      // The lifecycle's calls answer without a detour through promises when they can: they are most of a command's calls.
      handlers[id] = this.unary(entry, commandFqi, (request, context) => this.startObservable(entry, command, request, context));
      handlers[`${id}_Info`] = this.stream(entry, null, (request, call) => {
        const execution = find(request);
        if (!execution.finished) return this.follow(execution, call, () => call.write(infoMessage(execution, executions)));
        call.write(infoMessage(execution, executions));
      });
      if (command.intermediateResponses.length) {
        handlers[`${id}_Intermediate`] = this.stream(entry, null, async (request, call) => {
          const execution = find(request);
          const forward = (message: Record<string, unknown>) => call.write(message);
          execution.intermediates.add(forward);
          try {
            await this.follow(execution, call, ignore);
          } finally {
            execution.intermediates.delete(forward);
          }
        });
      }
      handlers[`${id}_Result`] = this.unary(entry, null, (request) => {
        const execution = find(request);
        if (!execution.finished) throw new FrameworkError('COMMAND_EXECUTION_NOT_FINISHED', `execution '${execution.uuid}' has not finished yet`);
        if (execution.error) throw execution.error;
        return execution.responses;
      });
    }
    for (const property of feature.properties) {
      const source = entry.implementation.properties?.[property.identifier];
      const member = fqi.property(feature, property.identifier);
      const wrap = (value: SilaValue) => ({ [property.identifier]: entry.codec.encode(property.dataType, value, property.identifier) });
      if (!property.observable) {
        handlers[`Get_${property.identifier}`] = this.unary(entry, member, (_request, context) => {
          const value = (source as PropertyGetter)(context);
          return value instanceof Promise ? value.then(wrap) : wrap(value);
        });
        continue;
      }
      handlers[`Subscribe_${property.identifier}`] = this.stream(entry, member, async (_request, call, context) => {
        const send = (value: SilaValue) => call.write(wrap(value));
        if (source instanceof ObservableProperty) {
          const unsubscribe = source.subscribe(send);
          await untilClosed(call, context.signal);
          unsubscribe();
          return;
        }
        for await (const value of (source as PropertyStream)(context)) {
          if (call.cancelled || call.destroyed) break;
          send(value);
        }
      });
    }
    for (const metadata of feature.metadata) {
      handlers[`Get_FCPAffectedByMetadata_${metadata.identifier}`] = this.unary(entry, null, async () => ({
        AffectedCalls: (entry.implementation.metadataAffects?.[metadata.identifier] ?? []).map((value) => ({ value })),
      }));
    }
    return handlers;
  }

  /**
   * A unary handler: metadata is checked for `member` (null: calls that take no metadata), errors
   * become SiLA errors. A body that answers at once (no promise) is answered at once.
   */
  private unary(entry: FeatureEntry, member: string | null, body: (request: any, context: CallContext) => unknown): grpc.handleUnaryCall<any, any> {
    return (call, callback) => {
      let response: unknown;
      try {
        response = body(call.request, this.context(entry, member, call.metadata));
      } catch (error) {
        callback(toGrpcStatus(asSilaError(error, entry)) as grpc.ServiceError);
        return;
      }
      if (!(response instanceof Promise)) return callback(null, response);
      response.then(
        (answer) => callback(null, answer),
        (error) => callback(toGrpcStatus(asSilaError(error, entry)) as grpc.ServiceError),
      );
    };
  }

  /** A server-streaming handler; the stream ends when the body is done (at once when it returns no promise). */
  private stream(entry: FeatureEntry, member: string | null, body: (request: any, call: grpc.ServerWritableStream<any, any>, context: CallContext) => void | Promise<void>): grpc.handleServerStreamingCall<any, any> {
    return (call) => {
      let running: void | Promise<void>;
      try {
        running = body(call.request, call, this.context(entry, member, call.metadata));
      } catch (error) {
        failStream(call, entry, error);
        return;
      }
      if (!(running instanceof Promise)) return endStream(call);
      running.then(
        () => endStream(call),
        (error) => failStream(call, entry, error),
      );
    };
  }

  /** Calls `onChange` now and at every change of the execution until it finishes, the client leaves or the server stops. */
  private follow(execution: ServerExecution, call: grpc.ServerWritableStream<any, any>, onChange: () => void): void | Promise<void> {
    if (execution.finished || call.cancelled || this.signal.aborted) {
      // Already over: the final state is all there is to say.
      onChange();
      return;
    }
    return new Promise<void>((resolve) => {
      let done = false;
      const end = () => {
        if (done) return;
        done = true;
        execution.changed.delete(listener);
        call.off('cancelled', end);
        call.off('close', end);
        this.signal.removeEventListener('abort', end);
        resolve();
      };
      const listener = () => {
        onChange();
        if (execution.finished) end();
      };
      call.on('cancelled', end);
      call.on('close', end);
      this.signal.addEventListener('abort', end, { once: true });
      execution.changed.add(listener);
      listener();
    });
  }

  /**
   * The metadata a call carries for it: every metadata whose affected calls include the call's feature
   * or the call itself, unless its rule says it is not needed now. Other SiLA metadata is ignored,
   * except on SiLAService, which takes none at all.
   */
  private readMetadata(entry: FeatureEntry, member: string | null, headers: grpc.Metadata): Record<string, SilaValue> {
    if (entry.isSilaService) {
      const keys = Object.keys(headers.getMap()).filter((k) => k.startsWith('sila-') && k.endsWith('-bin'));
      if (keys.length) throw new FrameworkError('NO_METADATA_ALLOWED', `SiLAService calls take no metadata; received ${keys.join(', ')}`);
      return NO_METADATA;
    }
    if (member === null) return NO_METADATA;
    const required = this.requiredMetadata(entry, member);
    if (!required.length) return NO_METADATA;
    const values: Record<string, SilaValue> = {};
    for (const item of required) {
      const rule = item.owner.implementation.metadataRules?.[item.metadata.identifier];
      const raw = headers.get(item.header)[0];
      if (raw === undefined && rule && !rule.needed()) continue;
      const value = readMetadataValue(item, raw);
      rule?.check?.(value);
      values[item.metadata.identifier] = value;
    }
    return values;
  }

  private requiredMetadata(entry: FeatureEntry, member: string): RequiredMetadata[] {
    let required = this.requiredMetadataCache.get(member);
    if (!required) {
      const feature = featureFqi(entry.feature);
      required = this.entries.flatMap((owner) =>
        owner.feature.metadata
          .filter((metadata) => (owner.implementation.metadataAffects?.[metadata.identifier] ?? []).some((a) => sameFqi(a, feature) || sameFqi(a, member)))
          .map((metadata) => ({ owner, metadata, header: metadataHeader(owner.feature, metadata.identifier) })),
      );
      this.requiredMetadataCache.set(member, required);
    }
    return required;
  }
}

function endStream(call: grpc.ServerWritableStream<any, any>): void {
  if (!call.destroyed && !call.cancelled) call.end();
}

/** A failure mid-stream ends the stream with the SiLA error, so the client sees what went wrong. */
function failStream(call: grpc.ServerWritableStream<any, any>, entry: FeatureEntry, error: unknown): void {
  if (!call.destroyed) call.emit('error', toGrpcStatus(asSilaError(error, entry)));
}

function readMetadataValue({ owner, metadata, header }: RequiredMetadata, raw: string | Buffer | undefined): SilaValue {
  const id = fqi.metadata(owner.feature, metadata.identifier);
  if (raw === undefined) throw new FrameworkError('INVALID_METADATA', `this call requires metadata ${id} (gRPC header ${header})`);
  try {
    const message = owner.proto.type(`Metadata_${metadata.identifier}`).decode(raw as Buffer) as unknown as Record<string, unknown>;
    return owner.codec.decode(metadata.dataType, message[metadata.identifier], metadata.identifier, true);
  } catch (error) {
    throw new FrameworkError('INVALID_METADATA', `metadata ${id} is invalid: ${(error as Error).message}`);
  }
}

function unobservable(context: CallContext): CommandContext {
  return { metadata: context.metadata, signal: context.signal, progress: ignore, intermediate: ignore, controls: ignore, recoverableError: noRecovery };
}

function infoMessage(execution: ServerExecution, executions: Executions): Record<string, unknown> {
  return {
    commandStatus: STATUS_NUMBER[execution.status],
    progressInfo: { value: execution.progress },
    ...(execution.remainingSeconds !== undefined ? { estimatedRemainingTime: duration(execution.remainingSeconds) } : {}),
    updatedLifetimeOfExecution: duration(executions.lifetimeLeft(execution as ServerExecution<FeatureEntry>)),
  };
}

/** Resolves when the client cancels the stream, the stream closes, or a signal aborts; leaves no listener behind. */
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

/**
 * What a handler threw, as the SiLA error the client receives. A defined error given with its short
 * identifier is qualified with the feature when the feature declares it; one given fully qualified
 * (a core feature's error raised on another feature's call, e.g. InvalidLockIdentifier) passes as is.
 */
export function asSilaError(error: unknown, entry: FeatureEntry, command?: Command): SilaError {
  if (error instanceof DefinedExecutionError) {
    if (error.errorIdentifier.includes('/')) return error;
    const declared = command ? command.errors : entry.feature.commands.flatMap((c) => c.errors).concat(entry.feature.properties.flatMap((p) => p.errors));
    const short = error.identifier;
    if (declared.includes(short) || entry.feature.errors.some((e) => e.identifier === short)) return new DefinedExecutionError(fqi.error(entry.feature, short), error.message);
    return new UndefinedExecutionError(`${short}: ${error.message}`);
  }
  if (error instanceof SilaError) return error;
  if (error instanceof CodecError) return new UndefinedExecutionError(error.message);
  return new UndefinedExecutionError(error instanceof Error ? error.message : String(error));
}
