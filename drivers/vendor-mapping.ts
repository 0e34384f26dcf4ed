/**
 * How a vendor's own SiLA 2 feature maps onto a module kind of the catalogue, as written in a layout:
 * feature, command and parameter names, units, result fields, states and error identifiers. With it a
 * new vendor is YAML, not code. The mapping's shape is part of the layout language (config/vendor-mapping.ts);
 * this converts values across it.
 */
export type { FieldMapping, VendorMapping } from '../config/vendor-mapping.ts';
import { canonicalUnit, convert } from '../config/units.ts';
import type { CapabilitySpec } from '../config/catalogue.ts';
import type { FieldMapping } from '../config/vendor-mapping.ts';

export function convertValue(value: unknown, catalogueUnit: string | undefined, field: FieldMapping | undefined, toCatalogue = false): unknown {
  if (typeof value !== 'number' || !field?.unit || !catalogueUnit) return value;
  const [from, to] = toCatalogue ? [field.unit, catalogueUnit] : [catalogueUnit, field.unit];
  const converted = convert({ value, unit: canonicalUnit(from) ?? from }, to);
  if (converted === undefined) throw new Error(`cannot convert ${from} to ${to}`);
  return converted;
}

export function parameterUnit(spec: CapabilitySpec, name: string): string | undefined {
  return spec.parameters[name]?.unit;
}

export function resultUnit(spec: CapabilitySpec, name: string): string | undefined {
  return spec.results[name]?.unit;
}
