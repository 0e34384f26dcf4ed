/**
 * The vendor mapping of a layout: how a vendor's own SiLA 2 feature maps onto a module kind of the
 * catalogue (feature, command and parameter names, units, result fields, states, error identifiers).
 */
import type { ModuleState } from './state-model.ts';

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
