/**
 * A module on an OPC UA server without LADS: the layout maps each capability to a method call and each
 * telemetry channel to a variable, so a new vendor is YAML, not code.
 */
import { DataType, Variant } from 'node-opcua';
import type { ModuleState } from '../../config/state-model.ts';
import type { OpcUaDriver } from './client.ts';
import { OpcUaError } from './connection.ts';
import { normalizedState } from './lads-units.ts';

export type ArgumentType = 'Double' | 'Float' | 'Int32' | 'UInt32' | 'Int64' | 'Boolean' | 'String';

export interface PlainMapping {
  capabilities: Record<string, { object: string[]; method: string; arguments: Array<{ parameter: string; type: ArgumentType }>; results?: string[] }>;
  telemetry?: Record<string, { variable: string[]; samplingIntervalMs?: number }>;
  state?: { variable: string[]; model: 'PackML' | 'LADS' };
}

export class PlainOpcUaModule {
  constructor(private readonly driver: OpcUaDriver, readonly mapping: PlainMapping) {}

  /** Calls the capability's method with its parameters in the mapped order and types; names the outputs. */
  async execute(capability: string, parameters: Record<string, string | number | boolean>): Promise<Record<string, unknown>> {
    const call = this.mapping.capabilities[capability];
    if (!call) throw new OpcUaError(`the mapping has no capability '${capability}'; it maps ${Object.keys(this.mapping.capabilities).join(', ')}`);
    const inputs = call.arguments.map(({ parameter, type }) => {
      const value = parameters[parameter];
      if (value === undefined) throw new OpcUaError(`${capability}: parameter '${parameter}' is missing`);
      return new Variant({ dataType: DataType[type], value: type === 'String' ? String(value) : type === 'Boolean' ? Boolean(value) : Number(value) });
    });
    const outputs = await this.driver.callMethod(call.object, call.method, inputs);
    const names = call.results ?? [];
    return Object.fromEntries(outputs.map((value, i) => [names[i] ?? `output${i}`, value]));
  }

  async state(): Promise<{ deviceState: string; state: ModuleState }> {
    if (!this.mapping.state) throw new OpcUaError('the mapping names no state variable');
    const name = String(await this.driver.readVariable(this.mapping.state.variable));
    return { deviceState: name, state: normalizedState(this.mapping.state.model, name) };
  }

  async subscribeTelemetry(onSample: (channel: string, value: number, sourceTimestamp: Date) => void): Promise<{ close(): Promise<void> }> {
    const byInterval = new Map<number, Array<{ key: string; path: string[] }>>();
    for (const [channel, t] of Object.entries(this.mapping.telemetry ?? {})) {
      const interval = t.samplingIntervalMs ?? 500;
      byInterval.set(interval, [...(byInterval.get(interval) ?? []), { key: channel, path: t.variable }]);
    }
    const subscriptions = await Promise.all([...byInterval].map(([interval, items]) => this.driver.monitorVariables(items, interval, (channel, value, at) => onSample(channel, Number(value), at))));
    return { close: async () => void (await Promise.all(subscriptions.map((s) => s.close()))) };
  }
}
