/**
 * Counterflow or Sepax-type processing (domain brief, steps 2, 3 and 6): wash recovers about 86-88 %,
 * magnetic selection about 55 % at 98 % (CD4/CD8) or 89 % (CD3) purity, harvest about 85 %.
 * NK cells (unverified, CliniMACS-type figures): CD3 depletion leaves under 1 % T cells and keeps
 * about 80 % of the NK cells; CD56 enrichment reaches about 85 % NK with some CD3+CD56+ NKT cells;
 * both in sequence about 93 % NK and 0.5 % T cells, at about 45 % NK recovery.
 */
import { clamp, type SeededRandom } from '../random.ts';
import type { Material } from '../world.ts';
import { requireItem, runFor, type BehaviourContext, type KindBehaviour } from './context.ts';
import { markersOf } from './phenotype.ts';

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
    const markers = String(context.parameters.markers);
    const loaded = Math.min(Number(context.parameters.inputCells), item.material.cells);
    const { recovery, purity } = NK_SELECTIONS[markers] ? selectNk(item.material, loaded, NK_SELECTIONS[markers]!, context.random) : selectT(item.material, loaded, markers, context.random);
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

/** T-cell (and CD34) selections: recovery counted on the cells loaded, as the domain brief gives it. */
function selectT(material: Material, loaded: number, markers: string, random: SeededRandom): { recovery: number; purity: number } {
  const recovery = clamp(random.normal(55, 5), 30, 80);
  const purity = markers === 'CD3' ? clamp(random.normal(89, 3), 70, 99.5) : clamp(random.normal(98, 2), 85, 99.9);
  material.cells = loaded * (recovery / 100);
  const before = markersOf(material);
  const cd4Share = before.CD4 / Math.max(before.CD4 + before.CD8, 1e-9);
  const cd3 = markers === 'CD34' ? 100 - purity : markers === 'CD3' ? purity : Math.min(99.9, purity + 0.5);
  const cd4 = markers === 'CD4' ? purity : markers === 'CD8' ? (100 - purity) / 2 : markers === 'CD34' ? 0 : cd3 * cd4Share;
  const cd8 = markers === 'CD8' ? purity : markers === 'CD4' ? (100 - purity) / 2 : markers === 'CD34' ? 0 : cd3 - cd4;
  const nk = (100 - cd3) * 0.5;
  material.markers = { ...before, CD3: cd3, CD4: cd4, CD8: cd8, CD56: nk, CD16: nk * 0.88 };
  return { recovery, purity };
}

interface NkSelection {
  /** NK cells kept, % of those loaded. */
  recovery: [mean: number, sd: number];
  /** CD56+CD3- cells, % of the product; undefined: what remains once the T cells are gone. */
  purity?: [mean: number, sd: number];
  /** CD3+ cells left, % of the product. */
  cd3: [mean: number, sd: number];
}

const NK_SELECTIONS: Record<string, NkSelection> = {
  'CD3-depletion': { recovery: [80, 5], cd3: [0.6, 0.2] },
  CD56: { recovery: [60, 6], purity: [85, 4], cd3: [8, 2.5] },
  'CD3-depletion+CD56': { recovery: [45, 6], purity: [93, 2.5], cd3: [0.5, 0.2] },
};

/** NK selections: recovery and purity are of the CD56+CD3- NK cells, the product's target. */
function selectNk(material: Material, loaded: number, selection: NkSelection, random: SeededRandom): { recovery: number; purity: number } {
  const before = markersOf(material);
  const recovery = clamp(random.normal(...selection.recovery), 20, 95);
  const cd3 = clamp(random.normal(...selection.cd3), 0.05, 20);
  const nkCells = loaded * (before.CD56 / 100) * (recovery / 100);
  // Without an enrichment the NK share is what is left of the other non-T cells (B cells, monocytes).
  const purity = selection.purity ? clamp(random.normal(...selection.purity), 50, 99.5) : clamp((before.CD56 / Math.max(100 - before.CD3, 1)) * 100 * 0.95, 5, 95);
  material.cells = nkCells / (purity / 100);
  const cd16Share = before.CD16 / Math.max(before.CD56, 1e-9);
  material.markers = { CD3: cd3, CD4: cd3 * 0.6, CD8: cd3 * 0.4, CD56: purity, CD16: purity * cd16Share, TCR: 0 };
  return { recovery, purity };
}
