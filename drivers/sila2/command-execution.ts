/**
 * One execution of an observable command on the client: its Info and Intermediate streams, its result,
 * and when its UUID expires (the lifetime of execution the server gives and extends).
 */
import * as grpc from '@grpc/grpc-js';
import { ExecutionExpiredError, FrameworkError, SilaConnectionError } from './errors.ts';
import type { Command } from './feature.ts';
import { durationSeconds } from './grpc-methods.ts';
import { Mailbox, STREAM_END_GRACE_MS, type StreamEnd } from './client-streams.ts';
import type { CallOptions, CommandStatus, ExecutionHost, ExecutionInfo, ExecutionUpdate, FeatureHandle } from './client-types.ts';
import type { SilaValue } from './values.ts';

const STATUS_NAMES: CommandStatus[] = ['waiting', 'running', 'finishedSuccessfully', 'finishedWithError'];

export class CommandExecution implements AsyncIterable<ExecutionUpdate> {
  private expiry: number | undefined;

  constructor(
    private readonly client: ExecutionHost,
    private readonly handle: FeatureHandle,
    readonly command: Command,
    readonly uuid: string,
    /** From the command confirmation; unknown for an execution attached to by UUID until its first Info. */
    lifetimeSeconds?: number,
  ) {
    if (lifetimeSeconds !== undefined) this.expiry = client.clock.now() + lifetimeSeconds * 1000;
  }

  /** When the server forgets this execution unless it extends its lifetime; undefined when it has not said. */
  get expiresAt(): Date | undefined {
    return this.expiry === undefined ? undefined : new Date(this.expiry);
  }

  private noteInfo(message: any): ExecutionInfo {
    const info = readInfo(message);
    if (info.updatedLifetimeSeconds !== undefined) this.expiry = this.client.clock.now() + info.updatedLifetimeSeconds * 1000;
    return info;
  }

  /** An unknown-UUID error for an execution whose lifetime has passed says so plainly. */
  private explain(error: unknown): unknown {
    if (!(error instanceof FrameworkError) || error.errorType !== 'INVALID_COMMAND_EXECUTION_UUID' || error instanceof ExecutionExpiredError) return error;
    const name = `execution ${this.uuid} of ${this.command.identifier}`;
    if (this.expiry !== undefined && this.client.clock.now() >= this.expiry) {
      return new ExecutionExpiredError(this.uuid, new Date(this.expiry), `${name} has expired: the server kept it until ${new Date(this.expiry).toISOString()} (its lifetime of execution) and has forgotten it since`);
    }
    return new FrameworkError('INVALID_COMMAND_EXECUTION_UUID', `the server does not know ${name}${this.expiry !== undefined ? `, although its lifetime runs until ${new Date(this.expiry).toISOString()} (was the server restarted?)` : ''}: ${error.message}`);
  }

  /**
   * Execution info until the command finishes; re-attaches by UUID if the connection drops. After the
   * final status the server is given a moment to end the stream rather than having it cancelled.
   */
  async *info(signal?: AbortSignal): AsyncGenerator<ExecutionInfo> {
    const rpc = this.handle.proto.rpcs.get(`${this.command.identifier}_Info`)!;
    try {
      let finished = false;
      for await (const message of this.client.stream(rpc, { value: this.uuid }, signal, 'after-last', isFinal)) {
        if (finished) continue;
        const info = this.noteInfo(message);
        finished = isFinal(message);
        yield info;
      }
    } catch (error) {
      throw this.explain(error);
    }
  }

  /** Resolves when the execution has finished (either way), following its Info stream. */
  private async finished(signal?: AbortSignal): Promise<void> {
    const rpc = this.handle.proto.rpcs.get(`${this.command.identifier}_Info`)!;
    try {
      await this.client.follow(rpc, { value: this.uuid }, signal, 'after-last', (message) => {
        this.noteInfo(message);
        return isFinal(message) ? 'last' : undefined;
      });
    } catch (error) {
      throw this.explain(error);
    }
    if (signal?.aborted) throw new SilaConnectionError('stopped waiting for the execution to finish', grpc.status.CANCELLED);
  }

  /** Intermediate responses as they come, until the command finishes. */
  async *intermediates(signal?: AbortSignal): AsyncGenerator<Record<string, SilaValue>> {
    const rpc = this.handle.proto.rpcs.get(`${this.command.identifier}_Intermediate`);
    if (!rpc) return;
    try {
      for await (const message of this.client.stream(rpc, { value: this.uuid }, signal, true)) {
        yield await this.client.decodeItems(this.handle, this.command.intermediateResponses, message);
      }
    } catch (error) {
      throw this.explain(error);
    }
  }

  /** Info and intermediate responses merged, in arrival order, until the command finishes. */
  async *[Symbol.asyncIterator](): AsyncIterator<ExecutionUpdate> {
    const stop = new AbortController();
    const mailbox = new Mailbox<ExecutionUpdate>();
    let intermediateFailure: unknown;
    const intermediates = (async () => {
      for await (const responses of this.intermediates(stop.signal)) mailbox.push({ kind: 'intermediate', responses });
    })().catch((error) => {
      intermediateFailure = error;
    });
    const infos = (async () => {
      for await (const info of this.info(stop.signal)) mailbox.push({ kind: 'info', ...info });
    })().then(
      async () => {
        // The server ends the intermediate stream when the command finishes; give it the chance.
        const grace = this.client.clock.setTimeout(() => stop.abort(), STREAM_END_GRACE_MS);
        await intermediates;
        this.client.clock.clearTimeout(grace);
        // A SiLA error the server ended the intermediate stream with is not to be lost.
        mailbox.close(intermediateFailure instanceof SilaConnectionError ? undefined : intermediateFailure);
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
    let response: Record<string, unknown>;
    try {
      response = await this.client.unary(rpc, { value: this.uuid }, { timeoutMs: options.timeoutMs, signal: options.signal });
    } catch (error) {
      throw this.explain(error);
    }
    return this.client.decodeItems(this.handle, this.command.responses, response);
  }
}

function readInfo(message: any): ExecutionInfo {
  return {
    status: STATUS_NAMES[message.commandStatus as number] ?? 'waiting',
    progress: message.progressInfo?.value,
    estimatedRemainingSeconds: durationSeconds(message.estimatedRemainingTime),
    updatedLifetimeSeconds: durationSeconds(message.updatedLifetimeOfExecution),
  };
}

/** Whether an ExecutionInfo message is an execution's final one (finished successfully or with an error). */
function isFinal(message: any): boolean {
  return message.commandStatus === 2 || message.commandStatus === 3;
}
