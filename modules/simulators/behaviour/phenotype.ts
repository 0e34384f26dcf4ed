/**
 * The surface phenotype of simulated material, % of viable cells per marker, as a flow panel would
 * read it. Apheresis mononuclear cells (unverified defaults): about 60 % CD3+ T cells (CD4:CD8 near
 * 2:1), 10-15 % CD56+CD3- NK cells, most of them CD16+ (CD56dim).
 */
import { clamp, type SeededRandom } from '../random.ts';
import type { Material } from '../world.ts';

export type Markers = NonNullable<Material['markers']>;

export const APHERESIS_MARKERS: Readonly<Required<Markers>> = { CD3: 60, CD4: 39, CD8: 21, CD56: 12, CD16: 10.5, TCR: 0 };

/** A patient's own phenotype, drawn around the apheresis defaults. */
export function drawApheresisMarkers(random: SeededRandom): Required<Markers> {
  const cd3 = clamp(random.normal(60, 8), 35, 80);
  const cd4Share = clamp(random.normal(0.65, 0.06), 0.4, 0.85);
  const cd56 = clamp(random.normal(12, 3), 4, 25);
  return { CD3: cd3, CD4: cd3 * cd4Share, CD8: cd3 * (1 - cd4Share), CD56: cd56, CD16: cd56 * clamp(random.normal(0.88, 0.04), 0.7, 0.97), TCR: 0 };
}

export function markersOf(material: Material): Required<Markers> {
  return { ...APHERESIS_MARKERS, ...material.markers };
}

/** Whether the material is mostly NK cells (they expand more slowly than activated T cells without feeders). */
export function isNkProduct(material: Material): boolean {
  const markers = markersOf(material);
  return markers.CD56 > markers.CD3;
}

/** The sample's flow panel: each marker as measured, with the cytometer's spread. */
export function measuredMarkers(material: Material, random: SeededRandom): Record<string, number> {
  const markers = markersOf(material);
  const read = (value: number) => clamp(random.normal(value, Math.max(0.2, value * 0.03)), 0, 100);
  return {
    cd3Positive: read(markers.CD3),
    cd4Positive: read(markers.CD4),
    cd8Positive: read(markers.CD8),
    cd56Positive: read(markers.CD56),
    cd16Positive: read(markers.CD16),
    tcrPositive: markers.TCR > 0 ? read(markers.TCR) : 0,
    carPositive: (material.carPositive ?? 0) > 0 ? read(material.carPositive!) : 0,
  };
}
