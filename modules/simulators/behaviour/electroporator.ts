/**
 * Electroporation (domain brief, step 4b): viability loss rises with voltage, pulse count and width.
 * About 10 % is lost at low energy and roughly a third at 1000 V; some dead cells lyse. DNA in the
 * cartridge costs viability on top (unverified: 8-12 % with plasmid, transposon or an HDR template;
 * mRNA or RNP alone add nothing to the pulse's own loss).
 *
 * What the payload does to the cells (unverified, typical of published non-viral processes):
 * transposon CAR or TCR about 30 % positive after expansion, plasmid about 10 %, mRNA about 85 %
 * (transient); a CRISPR RNP with an HDR template knocks the transgene in at about 25 %. An RNP
 * cutting TRAC disrupts the endogenous TCR in about 85 % of T cells, which then lose surface CD3
 * unless the knocked-in TCR replaces it; an RNP alone edits and expresses nothing.
 */
import { clamp, type SeededRandom } from '../random.ts';
import type { Material } from '../world.ts';
import { requireItem, runFor, type KindBehaviour } from './context.ts';
import { markersOf } from './phenotype.ts';

const EXPRESSION: Record<string, [mean: number, sd: number]> = {
  'plasmid-DNA': [10, 4],
  transposon: [30, 8],
  mRNA: [85, 5],
  'RNP-HDR-template': [25, 6],
};

const DNA_TOXICITY: Record<string, number> = { 'plasmid-DNA': 0.1, transposon: 0.08, 'RNP-HDR-template': 0.12 };

export const electroporator: KindBehaviour = {
  async electroporate(context) {
    const item = requireItem(context);
    const voltage = Number(context.parameters.voltage);
    const pulses = Number(context.parameters.pulses);
    const width = Number(context.parameters.pulseWidth);
    const payload = String(context.parameters.payload);
    await runFor(context, context.durationSeconds, () => ({ cartridgeTemperature: context.random.normal(4, 0.4), current: context.random.normal(voltage / 20, 0.5) }));
    const energy = (voltage / 1000) ** 2 * Math.sqrt(pulses) * Math.sqrt(width / 20);
    const loss = clamp(0.08 + 0.3 * energy + (DNA_TOXICITY[payload] ?? 0) + context.random.normal(0, 0.02), 0.02, 0.95);
    item.material.viability = clamp(item.material.viability * (1 - loss), 0, 100);
    item.material.cells *= 1 - loss * 0.4;
    const results = { totalCells: item.material.cells, viability: item.material.viability, deliveredPulses: pulses, chamberResistance: context.random.normal(20, 1.5) };
    deliver(item.material, payload, String(context.parameters.transgene ?? 'CAR'), String(context.parameters.targetLocus ?? 'none'), context.random);
    return results;
  },
};

/** The phenotype after delivery: transgene-positive share of the T cells, and TRAC disruption. */
function deliver(material: Material, payload: string, transgene: string, locus: string, random: SeededRandom): void {
  const markers = markersOf(material);
  const expression = EXPRESSION[payload];
  const positive = expression && transgene !== 'none' ? clamp(random.normal(...expression), 1, 98) : 0;
  const tCells = markers.CD3;
  if (transgene === 'CAR' && positive > 0) material.carPositive = positive;
  let cd3 = tCells;
  if (locus === 'TRAC' && payload.startsWith('RNP')) {
    const disrupted = clamp(random.normal(85, 5), 50, 98) / 100;
    const rescued = transgene === 'TCR' ? positive / 100 : 0;
    cd3 = tCells * (rescued + (1 - rescued) * (1 - disrupted));
  }
  const scale = tCells > 0 ? cd3 / tCells : 1;
  material.markers = { ...markers, CD3: cd3, CD4: markers.CD4 * scale, CD8: markers.CD8 * scale, TCR: transgene === 'TCR' ? (tCells * positive) / 100 : markers.TCR };
}
