/**
 * ErrorRecoveryService on the server: a running command raises a recoverable error with continuation
 * options and waits; the error is listed in RecoverableErrors until a client picks an option
 * (ExecuteContinuationOption), gives up (AbortErrorHandling), or the error handling timeout passes.
 */
import { DefinedExecutionError, ValidationError } from '../errors.ts';
import { fqi, type Feature } from '../feature.ts';
import { ObservableProperty } from '../observable-property.ts';
import type { ServerExecution } from '../server-executions.ts';
import type { ContinuationChoice, FeatureImplementation, RecoverableErrorSpec } from '../server-types.ts';
import type { SilaAny, SilaTimestamp, SilaValue } from '../values.ts';
import type { Clock, Timer } from '../../clock.ts';

interface Pending {
  listed: Record<string, SilaValue>;
  options: string[];
  settle(choice: ContinuationChoice | undefined): void;
}

export class RecoverableErrors {
  /** The RecoverableErrors property: every error that waits for a decision. */
  readonly listed = new ObservableProperty<SilaValue[]>([]);
  private readonly pending = new Map<string, Pending>();

  constructor(private errorHandlingTimeoutSeconds: number, private readonly clock: Clock) {}

  /**
   * Lists the error and waits for a client's choice. Resolves undefined when error handling is given
   * up (AbortErrorHandling, the timeout, a cancellation): the command then ends with the error as usual.
   */
  raise(execution: ServerExecution, feature: Feature, spec: RecoverableErrorSpec): Promise<ContinuationChoice | undefined> {
    if (this.pending.has(execution.uuid)) throw new Error(`execution '${execution.uuid}' already waits for a continuation option`);
    if (!spec.options.length) throw new Error('a recoverable error needs at least one continuation option');
    if (spec.defaultOption !== undefined && !spec.options.some((o) => o.identifier === spec.defaultOption)) throw new Error(`the default option '${spec.defaultOption}' is not among the continuation options`);
    return new Promise((resolve) => {
      let timer: Timer | undefined;
      const settle = (choice: ContinuationChoice | undefined) => {
        if (this.pending.get(execution.uuid) !== entry) return;
        this.clock.clearTimeout(timer);
        execution.cancelListeners.delete(giveUp);
        this.pending.delete(execution.uuid);
        this.publish();
        resolve(choice);
      };
      const giveUp = () => settle(undefined);
      const entry: Pending = {
        options: spec.options.map((o) => o.identifier),
        settle,
        listed: {
          ErrorIdentifier: spec.errorIdentifier.includes('/') ? spec.errorIdentifier : fqi.error(feature, spec.errorIdentifier),
          CommandIdentifier: execution.commandFqi,
          CommandExecutionUUID: execution.uuid,
          ErrorTime: utcTimestamp(new Date(this.clock.now())),
          ErrorMessage: spec.message,
          ContinuationOptions: spec.options.map((o) => ({ Identifier: o.identifier, Description: o.description, RequiredInputData: o.requiredInputData ?? '' })),
          DefaultOption: spec.defaultOption ?? '',
          AutomaticSelectionTimeout: Math.max(0, Math.round(spec.automaticSelectionTimeoutSeconds ?? 0)),
        },
      };
      this.pending.set(execution.uuid, entry);
      execution.cancelListeners.add(giveUp);
      if (this.errorHandlingTimeoutSeconds > 0) timer = this.clock.setTimeout(giveUp, this.errorHandlingTimeoutSeconds * 1000);
      this.publish();
    });
  }

  private publish(): void {
    this.listed.set([...this.pending.values()].map((p) => p.listed));
  }

  private waiting(uuid: string): Pending {
    const entry = this.pending.get(uuid);
    if (!entry) throw new DefinedExecutionError('InvalidCommandExecutionUUID', `no recoverable error of execution '${uuid}' waits for a decision; another client may have answered it`);
    return entry;
  }

  implementation(feature: Feature): FeatureImplementation {
    return {
      commands: {
        ExecuteContinuationOption: ({ CommandExecutionUUID, ContinuationOption, InputData }) => {
          const entry = this.waiting(CommandExecutionUUID);
          if (!entry.options.includes(ContinuationOption)) {
            throw new DefinedExecutionError('UnknownContinuationOption', `the error of execution '${CommandExecutionUUID}' offers no continuation option '${ContinuationOption}'; it offers ${entry.options.join(', ')}`);
          }
          entry.settle({ option: ContinuationOption, inputData: (InputData as SilaAny).value });
        },
        AbortErrorHandling: ({ CommandExecutionUUID }) => this.waiting(CommandExecutionUUID).settle(undefined),
        SetErrorHandlingTimeout: ({ ErrorHandlingTimeout }) => {
          if (Number(ErrorHandlingTimeout) < 0) throw new ValidationError(fqi.parameter(feature, 'SetErrorHandlingTimeout', 'ErrorHandlingTimeout'), 'parameter ErrorHandlingTimeout: zero (wait as long as it takes) or a number of seconds');
          this.errorHandlingTimeoutSeconds = Number(ErrorHandlingTimeout);
        },
      },
      properties: { RecoverableErrors: this.listed },
    };
  }
}

function utcTimestamp(date: Date): SilaTimestamp {
  return {
    year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate(),
    hour: date.getUTCHours(), minute: date.getUTCMinutes(), second: date.getUTCSeconds(), millisecond: date.getUTCMilliseconds(),
    timezone: { hours: 0, minutes: 0 },
  };
}
