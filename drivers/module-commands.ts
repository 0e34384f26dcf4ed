/**
 * What every module driver does the same whatever its protocol (SiLA 2, OPC UA LADS, plain OPC UA): a
 * start at most once per idempotency key, a capability checked against the catalogue, device errors as
 * ModuleErrors, a cancellation marked so that the command's failure says it was cancelled, and the
 * answers of a device without a lock, a pause or a cancel (false, as the module interface says). Each
 * driver keeps its protocol: how it starts, follows, cancels, pauses and locks, and what its errors mean.
 */
import type { CapabilitySpec, ModuleKind } from '../config/catalogue.ts';
import { IdempotentStarts, ModuleError, type ExecuteOptions, type Execution, type ExecutionToken, type LockOwner, type ParameterValue } from './module.ts';

/** Connects a driver; a failure to reach the device is the module's connection error. */
export async function connectModule<T>(moduleId: string, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (error) {
    throw new ModuleError(moduleId, 'connection', (error as Error).message);
  }
}

export abstract class ModuleCommands {
  private readonly starts = new IdempotentStarts();
  /** Executions this driver is cancelling or cancelled: their failure is the cancellation. */
  private readonly cancelled = new Set<string>();

  constructor(readonly id: string, readonly kind: ModuleKind) {}

  capabilities(): string[] {
    return Object.keys(this.kind.capabilities);
  }

  execute(capability: string, parameters: Record<string, ParameterValue>, options: ExecuteOptions): Promise<Execution> {
    return this.starts.start(options.idempotencyKey, () => this.start(capability, parameters, options));
  }

  /** Starts the command on the device: called once per idempotency key (again only after a failed start). */
  protected abstract start(capability: string, parameters: Record<string, ParameterValue>, options: ExecuteOptions): Promise<Execution>;

  /** The catalogue's definition of a capability of this module's kind; refused when the kind has none. */
  protected capabilitySpec(capability: string): CapabilitySpec {
    const spec = this.kind.capabilities[capability];
    if (!spec) throw new ModuleError(this.id, 'invalid', `a ${this.kind.kind} has no capability '${capability}'`);
    return spec;
  }

  /** What the device's error means as a module error; a protocol that tells errors apart says more. */
  protected moduleError(error: unknown): ModuleError {
    return error instanceof ModuleError ? error : new ModuleError(this.id, 'device', (error as Error).message);
  }

  /** A call to the device, its failure the module's error. */
  protected async device<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw this.moduleError(error);
    }
  }

  /** Refuses a command this device does not have, saying why. */
  protected refuse(why: string): Promise<never> {
    return Promise.reject(new ModuleError(this.id, 'device', why));
  }

  /** Runs the device's cancel of an execution, marked cancelled unless the device refused or could not. */
  protected async cancelling(token: ExecutionToken, cancel: () => Promise<boolean>): Promise<boolean> {
    this.cancelled.add(token.id);
    let done = false;
    try {
      done = await this.device(cancel);
      return done;
    } finally {
      if (!done) this.cancelled.delete(token.id);
    }
  }

  /** Whether this driver cancelled the execution (its failure then says Cancelled). */
  protected wasCancelled(executionId: string): boolean {
    return this.cancelled.has(executionId);
  }

  // A device without these: a protocol that has them overrides each.

  /** Whether lock() can lock this device. */
  get lockable(): boolean {
    return false;
  }

  async lock(_owner: LockOwner, _timeoutSeconds: number, _onLost?: (error: ModuleError) => void): Promise<boolean> {
    return false;
  }

  async unlock(): Promise<void> {}

  async cancel(_token: ExecutionToken): Promise<boolean> {
    return false;
  }

  async pause(_token: ExecutionToken): Promise<boolean> {
    return false;
  }

  async resumePaused(_token: ExecutionToken): Promise<boolean> {
    return false;
  }
}
