/** Adds the core features a server is asked for, wired to its executions and features. */
import { readFeatureFile } from '../fdl.ts';
import type { Feature } from '../feature.ts';
import type { ExecutionRegistry } from '../server-executions.ts';
import type { FeatureImplementation } from '../server-types.ts';
import { cancelControllerImplementation, pauseControllerImplementation } from './command-controllers.ts';
import { RecoverableErrors } from './error-recovery.ts';
import { coreFeatureFile } from './features.ts';
import { defaultProtectedCalls, lockControllerImplementation, ServerLock, type LockControllerOptions } from './lock-controller.ts';
import { simulationControllerImplementation, type SimulationControllerOptions } from './simulation-controller.ts';
import type { Clock } from '../../clock.ts';

export interface CoreFeatureOptions {
  lockController?: boolean | LockControllerOptions;
  cancelController?: boolean;
  pauseController?: boolean;
  /** `errorHandlingTimeoutSeconds`: how long an error waits for a continuation option (default 0: as long as it takes). */
  errorRecoveryService?: boolean | { errorHandlingTimeoutSeconds?: number };
  simulationController?: SimulationControllerOptions;
}

export interface CoreServerAccess {
  /** The server's clock, of lock timeouts and error-handling timeouts. */
  clock: Clock;
  executions: ExecutionRegistry<any>;
  /** Every feature of the server (complete once it serves calls). */
  features(): Feature[];
  addFeature(feature: Feature, implementation: FeatureImplementation): void;
}

/** Adds the chosen core features; returns the ErrorRecoveryService's registry of errors when it is offered. */
export function addCoreFeatures(server: CoreServerAccess, options: CoreFeatureOptions): RecoverableErrors | undefined {
  const read = (name: Parameters<typeof coreFeatureFile>[0]) => readFeatureFile(coreFeatureFile(name));
  if (options.lockController) {
    const feature = read('LockController');
    const protects = typeof options.lockController === 'object' ? options.lockController.protects : undefined;
    server.addFeature(feature, lockControllerImplementation(new ServerLock(server.clock), feature, () => protects ?? defaultProtectedCalls(server.features())));
  }
  if (options.cancelController) server.addFeature(read('CancelController'), cancelControllerImplementation(server.executions));
  if (options.pauseController) server.addFeature(read('PauseController'), pauseControllerImplementation(server.executions));
  if (options.simulationController) server.addFeature(read('SimulationController'), simulationControllerImplementation(options.simulationController, server.executions));
  if (!options.errorRecoveryService) return undefined;
  const feature = read('ErrorRecoveryService');
  const recovery = new RecoverableErrors(typeof options.errorRecoveryService === 'object' ? (options.errorRecoveryService.errorHandlingTimeoutSeconds ?? 0) : 0, server.clock);
  server.addFeature(feature, recovery.implementation(feature));
  return recovery;
}
