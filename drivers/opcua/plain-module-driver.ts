/**
 * The module interface over a plain OPC UA server (no LADS), as the layout maps it: a capability is a
 * method call that returns when the device has done it; outputs are the named results.
 */
import { randomUUID } from 'node:crypto';
import { OpcUaDriver, type OpcUaConnectionOptions } from './client.ts';
import { PlainOpcUaModule, type PlainMapping } from './plain-mapping.ts';
import type { ModuleKind } from '../../config/catalogue.ts';
import type { ModuleState } from '../../config/state-model.ts';
import { connectModule, ModuleCommands } from '../module-commands.ts';
import { catalogueParameters, ModuleError, type ExecuteOptions, type Execution, type ExecutionToken, type ModuleDriver, type ParameterValue, type ResultValue, type TelemetrySample } from '../module.ts';

/** A plain method call runs to its end once called: it cannot be cancelled, paused or locked against others. */
export class PlainOpcUaModuleDriver extends ModuleCommands implements ModuleDriver {
  private readonly module: PlainOpcUaModule;

  private constructor(id: string, kind: ModuleKind, private readonly driver: OpcUaDriver, mapping: PlainMapping) {
    super(id, kind);
    this.module = new PlainOpcUaModule(driver, mapping);
  }

  static async connect(id: string, kind: ModuleKind, options: OpcUaConnectionOptions, mapping: PlainMapping): Promise<PlainOpcUaModuleDriver> {
    return new PlainOpcUaModuleDriver(id, kind, await connectModule(id, () => OpcUaDriver.connect(options)), mapping);
  }

  override capabilities(): string[] {
    return Object.keys(this.module.mapping.capabilities);
  }

  protected override async start(capability: string, parameters: Record<string, ParameterValue>, _options: ExecuteOptions): Promise<Execution> {
    const spec = this.kind.capabilities[capability];
    if (!spec || !this.module.mapping.capabilities[capability]) throw new ModuleError(this.id, 'invalid', `the layout maps no method to '${capability}'`);
    const values = catalogueParameters(this.id, capability, spec, parameters, { required: false });
    // The method call is the whole command: it runs once, when execute() is called.
    const outcome = this.device(() => this.module.execute(capability, values));
    outcome.catch(() => undefined);
    return {
      token: { module: this.id, capability, protocol: 'opcua', id: randomUUID() },
      async *progress() {
        await outcome.catch(() => undefined);
        yield { fraction: 1, remainingSeconds: 0 };
      },
      result: () => outcome as Promise<Record<string, ResultValue>>,
    };
  }

  async reattach(token: ExecutionToken): Promise<Execution> {
    throw new ModuleError(this.id, 'device', `a plain OPC UA method call cannot be re-attached (${token.capability}, ${token.id}); the layout's device reports no run identifier`);
  }

  async readState(): Promise<ModuleState> {
    if (!this.module.mapping.state) throw new ModuleError(this.id, 'device', 'the layout maps no state variable');
    return (await this.module.state()).state;
  }

  async watchState(listener: (state: ModuleState) => void): Promise<() => void> {
    if (!this.module.mapping.state) throw new ModuleError(this.id, 'device', 'the layout maps no state variable');
    const { state } = await this.module.state();
    listener(state);
    const watch = await this.driver.monitorVariables([{ key: 'state', path: this.module.mapping.state.variable }], 250, async () => listener((await this.module.state()).state));
    return () => void watch.close();
  }

  async watchTelemetry(listener: (sample: TelemetrySample) => void): Promise<() => void> {
    const units = new Map<string, string>();
    for (const capability of Object.values(this.kind.capabilities)) for (const [name, channel] of Object.entries(capability.telemetry)) units.set(name, channel.unit);
    const subscription = await this.module.subscribeTelemetry((channel, value, at) => listener({ module: this.id, channel, value, unit: units.get(channel) ?? '', at }));
    return () => void subscription.close();
  }

  private unsupported(what: string): Promise<void> {
    return this.refuse(`the layout maps no ${what} method for this device`);
  }

  hold(): Promise<void> {
    return this.unsupported('hold');
  }

  resume(): Promise<void> {
    return this.unsupported('resume');
  }

  abort(): Promise<void> {
    return this.unsupported('abort');
  }

  clear(): Promise<void> {
    return this.unsupported('clear');
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}
