/** SimulationController on the server: reports the mode, and switches it when no command runs. */
import { DefinedExecutionError } from '../errors.ts';
import type { ExecutionRegistry } from '../server-executions.ts';
import type { FeatureImplementation } from '../server-types.ts';

export interface SimulationControllerOptions {
  /** The mode the server starts in. */
  simulationMode: boolean;
  /** False for a simulator: there is no real device to switch to, so StartRealMode is refused. */
  realModeAvailable: boolean;
}

export function simulationControllerImplementation(options: SimulationControllerOptions, executions: ExecutionRegistry<unknown>): FeatureImplementation {
  let simulationMode = options.simulationMode;
  const busy = () => {
    const count = executions.running().length;
    return count ? `${count} command execution(s) still run; the mode changes only when none does` : undefined;
  };
  return {
    commands: {
      StartSimulationMode: () => {
        const reason = busy();
        if (reason && !simulationMode) throw new DefinedExecutionError('StartSimulationModeFailed', reason);
        simulationMode = true;
      },
      StartRealMode: () => {
        if (!options.realModeAvailable) throw new DefinedExecutionError('StartRealModeFailed', 'this server is a simulator: it has no real device to switch to');
        const reason = busy();
        if (reason && simulationMode) throw new DefinedExecutionError('StartRealModeFailed', reason);
        simulationMode = false;
      },
    },
    properties: { SimulationMode: () => simulationMode },
  };
}
