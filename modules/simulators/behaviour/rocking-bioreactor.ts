/**
 * Rocking-motion expansion (domain brief, step 5): about 30-fold over a week-plus of culture
 * (doubling ~34 h at 37 C, slower away from it), logistic towards ~3e7 cells/mL; glucose consumed and
 * lactate produced per cell; perfusion by density (< 2e6/mL none, 2-10e6 500 mL/day, 10-15e6
 * 750 mL/day, > 15e6 1000 mL/day) brings fresh medium at 4 g/L glucose; viability suffers when glucose
 * runs out. Temperature, CO2 and DO are controlled to their set-points with sensor noise.
 * NK cells (unverified): with IL-2/IL-15 alone they double about every 60 h (tens-fold in two
 * weeks); on irradiated K562 feeder cells expressing membrane IL-15 or IL-21 and 4-1BBL about every
 * 30 h (a thousand-fold and more). The phenotype is kept through culture: no subset outgrows another.
 */
import { clamp } from '../random.ts';
import { requireItem, runFor, type BehaviourContext, type KindBehaviour } from './context.ts';
import type { Material } from '../world.ts';
import { isNkProduct, measuredMarkers } from './phenotype.ts';

const FRESH_GLUCOSE = 4; // g/L in fresh medium
const GLUCOSE_PER_CELL_HOUR = 5e-12; // g per cell per hour: about 1.2 g/L/day at 1e7 cells/mL (~0.7 pmol per cell per day, activated T cells)
const LACTATE_PER_GLUCOSE = 1.6;
const MAX_DENSITY = 3e7; // cells/mL
const DOUBLING_HOURS = 34;
const NK_DOUBLING_HOURS = { cytokines: 60, feeders: 30 };

export function perfusionRate(density: number): number {
  if (density < 2e6) return 0;
  if (density < 1e7) return 500;
  if (density < 1.5e7) return 750;
  return 1000;
}

/** Advances a culture by `hours`; returns what the sensors would read now. */
export function grow(material: Material, hours: number, setpoint: { temperature: number; perfusion: string }): { density: number; perfusion: number } {
  const volume = Math.max(material.volumeMl, 1);
  const density = material.cells / volume;
  const temperatureFactor = Math.exp(-(((setpoint.temperature - 37) / 2.5) ** 2));
  const starving = (material.glucose ?? FRESH_GLUCOSE) < 0.5;
  const mu = starving ? -0.01 : (Math.LN2 / (material.doublingHours ?? DOUBLING_HOURS)) * temperatureFactor * (1 - density / MAX_DENSITY);
  material.cells *= Math.exp(mu * hours);
  material.viability = clamp(material.viability + (starving ? -1.5 * hours : 0.02 * hours * (95 - material.viability)), 0, 99);
  const consumed = (GLUCOSE_PER_CELL_HOUR * material.cells * hours) / (volume / 1000);
  material.glucose = Math.max(0, (material.glucose ?? FRESH_GLUCOSE) - consumed);
  material.lactate = (material.lactate ?? 0) + consumed * LACTATE_PER_GLUCOSE;
  const perfusion = setpoint.perfusion === 'off' ? 0 : setpoint.perfusion === 'fixed' ? 500 : perfusionRate(material.cells / volume);
  // Perfusion exchanges medium at constant volume: glucose is topped up, lactate washed out.
  const exchanged = Math.min(1, (perfusion / 24) * (hours / volume));
  material.glucose += (FRESH_GLUCOSE - material.glucose) * exchanged;
  material.lactate *= 1 - exchanged;
  return { density: material.cells / volume, perfusion };
}

function sensors(context: BehaviourContext, material: Material, perfusion: number, temperature: number, co2: number) {
  return {
    temperature: context.random.normal(temperature, 0.08),
    ph: context.random.normal(7.25 - 0.08 * (material.lactate ?? 0), 0.02),
    dissolvedOxygen: context.random.normal(45, 3),
    co2: context.random.normal(co2, 0.05),
    glucose: material.glucose ?? FRESH_GLUCOSE,
    lactate: material.lactate ?? 0,
    perfusionRate: perfusion,
    cellDensity: material.cells / Math.max(material.volumeMl, 1),
  };
}

export const rockingBioreactor: KindBehaviour = {
  async seed(context) {
    const item = requireItem(context);
    await runFor(context, context.durationSeconds, () => ({ temperature: context.random.normal(37, 0.1) }));
    item.material.cells = Math.min(item.material.cells, Number(context.parameters.cells));
    item.material.volumeMl = Number(context.parameters.volume);
    item.material.seededCells = item.material.cells;
    item.material.glucose = FRESH_GLUCOSE;
    item.material.lactate = 0;
    if (isNkProduct(item.material)) item.material.doublingHours = context.parameters.feeders && context.parameters.feeders !== 'none' ? NK_DOUBLING_HOURS.feeders : NK_DOUBLING_HOURS.cytokines;
    return { cellDensity: item.material.cells / item.material.volumeMl, viability: item.material.viability };
  },

  async transduce(context) {
    const item = requireItem(context);
    const moi = Number(context.parameters.moi);
    await runFor(context, context.durationSeconds, () => sensors(context, item.material, 0, 37, 5));
    grow(item.material, context.durationSeconds / 3600, { temperature: 37, perfusion: 'off' });
    item.material.viability = clamp(item.material.viability - Math.abs(context.random.normal(3, 1)), 0, 100);
    item.material.carPositive = clamp(context.random.normal(20 + 2.5 * moi, 6), 1, 80);
    return { viability: item.material.viability, totalCells: item.material.cells };
  },

  async culture(context) {
    const item = requireItem(context);
    const temperature = Number(context.parameters.temperature);
    const co2 = Number(context.parameters.co2);
    const perfusion = String(context.parameters.perfusion);
    const seeded = item.material.seededCells ?? item.material.cells;
    let lastFraction = 0;
    let reading = { density: 0, perfusion: 0 };
    await runFor(context, context.durationSeconds, (fraction) => {
      reading = grow(item.material, ((fraction - lastFraction) * context.durationSeconds) / 3600, { temperature, perfusion });
      lastFraction = fraction;
      return sensors(context, item.material, reading.perfusion, temperature, co2);
    });
    return {
      cellDensity: item.material.cells / item.material.volumeMl,
      totalCells: item.material.cells * (item.material.viability / 100),
      viability: item.material.viability,
      foldExpansion: item.material.cells / seeded,
    };
  },

  async feed(context) {
    const item = requireItem(context);
    const added = Number(context.parameters.volume);
    await runFor(context, context.durationSeconds);
    const total = item.material.volumeMl + added;
    item.material.glucose = ((item.material.glucose ?? FRESH_GLUCOSE) * item.material.volumeMl + FRESH_GLUCOSE * added) / total;
    item.material.lactate = ((item.material.lactate ?? 0) * item.material.volumeMl) / total;
    item.material.volumeMl = total;
    return { volume: total };
  },

  async sample(context) {
    const item = requireItem(context);
    await runFor(context, context.durationSeconds);
    item.material.volumeMl -= Number(context.parameters.volume);
    const measured = (value: number, cv: number) => context.random.normal(value, value * cv);
    return {
      cellDensity: measured(item.material.cells / item.material.volumeMl, 0.05),
      viability: clamp(measured(item.material.viability, 0.01), 0, 100),
      glucose: item.material.glucose ?? FRESH_GLUCOSE,
      lactate: item.material.lactate ?? 0,
      ...measuredMarkers(item.material, context.random),
    };
  },

  async harvest(context) {
    const item = requireItem(context);
    await runFor(context, context.durationSeconds);
    const fraction = Math.min(1, Number(context.parameters.volume) / item.material.volumeMl);
    item.material.cells *= fraction;
    item.material.volumeMl = Math.min(item.material.volumeMl, Number(context.parameters.volume));
    return { totalCells: item.material.cells * (item.material.viability / 100), viability: item.material.viability, volume: item.material.volumeMl };
  },
};
