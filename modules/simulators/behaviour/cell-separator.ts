/**
 * Counterflow or Sepax-type processing (domain brief, steps 2, 3 and 6): wash recovers about 86-88 %,
 * magnetic selection about 55 % at 98 % (CD4/CD8) or 89 % (CD3) purity, harvest about 85 %.
 */
import { clamp } from '../random.ts';
import { requireItem, runFor, type BehaviourContext, type KindBehaviour } from './context.ts';

const processing = (context: BehaviourContext, flow: number) => () => ({
  chamberTemperature: context.random.normal(21, 0.3),
  flowRate: context.random.normal(flow, flow * 0.03),
  centrifugeSpeed: context.random.normal(2000, 15),
});

export const cellSeparator: KindBehaviour = {
  async wash(context) {
    const item = requireItem(context);
    const input = Number(context.parameters.inputVolume);
    await runFor(context, context.durationSeconds, processing(context, input / Math.max(1, context.durationSeconds / 60)));
    const recovery = clamp(context.random.normal(87, 2.5), 70, 99);
    item.material.cells *= recovery / 100;
    item.material.viability = clamp(item.material.viability - Math.abs(context.random.normal(1.5, 0.8)), 0, 100);
    item.material.volumeMl = Number(context.parameters.targetVolume);
    return { totalCells: item.material.cells, viability: item.material.viability, recovery, outputVolume: item.material.volumeMl };
  },

  async select(context) {
    const item = requireItem(context);
    await runFor(context, context.durationSeconds, processing(context, 15));
    const recovery = clamp(context.random.normal(55, 5), 30, 80);
    const purity = context.parameters.markers === 'CD3' ? clamp(context.random.normal(89, 3), 70, 99.5) : clamp(context.random.normal(98, 2), 85, 99.9);
    item.material.cells = Math.min(Number(context.parameters.inputCells), item.material.cells) * (recovery / 100);
    item.material.viability = clamp(item.material.viability - Math.abs(context.random.normal(2, 1)), 0, 100);
    item.material.purity = purity;
    return { totalCells: item.material.cells, viability: item.material.viability, purity, recovery };
  },

  async harvest(context) {
    const item = requireItem(context);
    await runFor(context, context.durationSeconds, processing(context, 60));
    const recovery = clamp(context.random.normal(85, 3), 65, 98);
    item.material.cells *= recovery / 100;
    item.material.viability = clamp(item.material.viability - Math.abs(context.random.normal(1.5, 0.8)), 0, 100);
    item.material.volumeMl = Number(context.parameters.finalVolume);
    return { totalCells: item.material.cells, viability: item.material.viability, recovery, outputVolume: item.material.volumeMl };
  },
};
