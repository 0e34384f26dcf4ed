/**
 * How a vendor's own SiLA 2 feature maps onto a module kind of the catalogue, as written in a layout:
 * feature, command and parameter names, units, result fields, states and error identifiers. With it a
 * new vendor is YAML, not code.
 */
import { canonicalUnit, convert } from '../config/units.ts';
import type { CapabilitySpec } from '../modules/catalogue.ts';
import type { ModuleState } from '../modules/state-model.ts';

export interface FieldMapping {
  /** The vendor's identifier. */
  name: string;
  /** The vendor's unit, when it differs from the catalogue's. */
  unit?: string;
}

export interface VendorMapping {
  /** The vendor feature's fully qualified identifier. */
  feature: string;
  capabilities: Record<string, { command: string; parameters?: Record<string, FieldMapping>; item?: string; results?: Record<string, FieldMapping> }>;
  /** The vendor's state property and its values in the normalized model. */
  state?: { property: string; values: Record<string, ModuleState> };
  telemetry?: Record<string, FieldMapping>;
  /** Vendor error identifiers onto Workcell's (ModuleOccupied, WrongItem, HardwareFault). */
  errors?: Record<string, string>;
  hold?: string;
  resume?: string;
  abort?: string;
  clear?: string;
}

/** A value in the catalogue's unit expressed in the vendor's (or back, with `toCatalogue`). */
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
