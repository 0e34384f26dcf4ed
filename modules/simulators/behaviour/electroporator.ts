/**
 * Electroporation (domain brief, step 4b): viability loss rises with voltage, pulse count and width.
 * About 10 % is lost at low energy and roughly a third at 1000 V; some dead cells lyse.
 */
import { clamp } from '../random.ts';
import { requireItem, runFor, type KindBehaviour } from './context.ts';

export const electroporator: KindBehaviour = {
  async electroporate(context) {
    const item = requireItem(context);
    const voltage = Number(context.parameters.voltage);
    const pulses = Number(context.parameters.pulses);
    const width = Number(context.parameters.pulseWidth);
    await runFor(context, context.durationSeconds, () => ({ cartridgeTemperature: context.random.normal(4, 0.4), current: context.random.normal(voltage / 20, 0.5) }));
    const energy = (voltage / 1000) ** 2 * Math.sqrt(pulses) * Math.sqrt(width / 20);
    const loss = clamp(0.08 + 0.3 * energy + context.random.normal(0, 0.02), 0.02, 0.95);
    item.material.viability = clamp(item.material.viability * (1 - loss), 0, 100);
    item.material.cells *= 1 - loss * 0.4;
    return { totalCells: item.material.cells, viability: item.material.viability, deliveredPulses: pulses, chamberResistance: context.random.normal(20, 1.5) };
  },
};
