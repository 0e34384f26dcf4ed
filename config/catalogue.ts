/**
 * The module catalogue: the vocabulary layouts and schedules share. Each kind is one YAML file in
 * modules/catalogue/; adding a kind is adding a file, nothing else.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { YamlSource, type Diagnostic } from './source.ts';
import { checkAgainstSchema } from './schema-check.ts';
import { canonicalUnit, formatQuantity, parseDuration, parseQuantityIn, describeValue, type Parsed } from './units.ts';

export type ParameterType = 'number' | 'integer' | 'string' | 'boolean' | 'enum' | 'position';

export interface ParameterSpec {
  type: ParameterType;
  /** Canonical unit of a number parameter; a value must be written with a unit of the same dimension. */
  unit?: string;
  min?: number;
  max?: number;
  values?: string[];
  required?: boolean;
  default?: string | number | boolean;
  description: string;
}

export interface ResultSpec {
  type: 'number' | 'integer' | 'string' | 'boolean';
  unit?: string;
  description: string;
}

export interface TelemetryChannelSpec {
  unit: string;
  /** The range the channel normally reads within, in its unit (the batch record plots it as limits). */
  min?: number;
  max?: number;
  description: string;
}

/** How long a capability takes, known before it runs or only from the device. */
export type DurationSpec =
  | { known: 'fixed'; value: string | number }
  | { known: 'from-parameters'; base?: string | number; per?: Record<string, string | number>; sum?: string[] }
  | { known: 'reported-by-device'; typical: string | number };

export interface CapabilitySpec {
  description: string;
  parameters: Record<string, ParameterSpec>;
  results: Record<string, ResultSpec>;
  telemetry: Record<string, TelemetryChannelSpec>;
  duration: DurationSpec;
  /** Runs in a compartment of its own (an incubator) and does not keep the module from other commands. */
  alongside?: boolean;
}

export interface ModuleKind {
  kind: string;
  description: string;
  material: { capacity: number; container: string };
  lineClearanceWhenShared: boolean;
  capabilities: Record<string, CapabilitySpec>;
  /** Where the kind was defined, for messages. */
  file: string;
}

export class Catalogue {
  private constructor(private readonly kinds: ReadonlyMap<string, ModuleKind>) {}

  static fromKinds(kinds: Iterable<ModuleKind>): Catalogue {
    return new Catalogue(new Map([...kinds].map((k) => [k.kind, k])));
  }

  kindNames(): string[] {
    return [...this.kinds.keys()].sort();
  }

  kind(name: string): ModuleKind | undefined {
    return this.kinds.get(name);
  }

  /** Resolves "kind.capability", the form schedules use. */
  capability(reference: string): { kind: ModuleKind; name: string; spec: CapabilitySpec } | undefined {
    const dot = reference.indexOf('.');
    if (dot < 0) return undefined;
    const kind = this.kinds.get(reference.slice(0, dot));
    const name = reference.slice(dot + 1);
    const spec = kind?.capabilities[name];
    return kind && spec ? { kind, name, spec } : undefined;
  }
}

export class CatalogueError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(`the module catalogue is invalid:\n${diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`).join('\n')}`);
  }
}

const CATALOGUE_DIR = fileURLToPath(new URL('../modules/catalogue/', import.meta.url));
const KIND_SCHEMA = new URL('../modules/module-kind.schema.json', import.meta.url);

let builtIn: Catalogue | undefined;

/** The catalogue shipped in modules/catalogue/, loaded and checked once per process. */
export function loadCatalogue(directory: string = CATALOGUE_DIR): Catalogue {
  if (directory === CATALOGUE_DIR && builtIn) return builtIn;
  const kinds: ModuleKind[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const name of readdirSync(directory).filter((f) => f.endsWith('.yaml')).sort()) {
    const source = YamlSource.read(join(directory, name));
    if (source.parsed && checkAgainstSchema(source, KIND_SCHEMA)) checkModuleKind(source);
    diagnostics.push(...source.diagnostics.filter((d) => d.severity === 'error'));
    if (source.parsed) kinds.push({ ...(source.data as Omit<ModuleKind, 'file'>), file: source.file });
  }
  const seen = new Set<string>();
  for (const k of kinds) {
    if (seen.has(k.kind)) diagnostics.push({ file: k.file, line: 1, col: 1, severity: 'error', message: `module kind '${k.kind}' is defined twice` });
    seen.add(k.kind);
  }
  if (diagnostics.length) throw new CatalogueError(diagnostics);
  const catalogue = Catalogue.fromKinds(kinds);
  if (directory === CATALOGUE_DIR) builtIn = catalogue;
  return catalogue;
}

/** Checks a catalogue file beyond its schema: units exist, optional parameters have defaults that fit, durations refer to real parameters. */
function checkModuleKind(source: YamlSource): void {
  const kind = source.data as Omit<ModuleKind, 'file'>;
  for (const [capabilityName, capability] of Object.entries(kind.capabilities)) {
    const at = ['capabilities', capabilityName];
    for (const [name, spec] of Object.entries(capability.parameters)) {
      if (spec.unit !== undefined && !canonicalUnit(spec.unit)) source.reportAt([...at, 'parameters', name, 'unit'], `unknown unit '${spec.unit}'`);
      if (spec.type === 'enum' && !spec.values) source.reportAt([...at, 'parameters', name], "an enum parameter needs 'values'");
      // Devices take every parameter of a command (SiLA has no optional ones): one a schedule may leave out needs a default.
      if (!spec.required && spec.default === undefined) source.reportAt([...at, 'parameters', name], `parameter '${name}' is optional but has no default: a device is sent every parameter, so give it a default (or make it required)`);
      if (spec.default !== undefined && (spec.unit === undefined || canonicalUnit(spec.unit))) {
        const checked = checkParameterValue(spec, spec.default);
        if (!checked.ok) source.reportAt([...at, 'parameters', name, 'default'], `default ${checked.error}`);
      }
    }
    for (const [name, spec] of Object.entries({ ...capability.results, ...capability.telemetry })) {
      if (spec.unit !== undefined && !canonicalUnit(spec.unit)) source.reportAt([...at, name in capability.results ? 'results' : 'telemetry', name, 'unit'], `unknown unit '${spec.unit}'`);
    }
    const duration = capability.duration;
    const durationAt = [...at, 'duration'];
    const timeFields: Array<[string, unknown]> = duration.known === 'fixed' ? [['value', duration.value]]
      : duration.known === 'reported-by-device' ? [['typical', duration.typical]]
      : [['base', duration.base], ...Object.entries(duration.per ?? {}).map(([p, v]) => [`per.${p}`, v] as [string, unknown])];
    for (const [field, value] of timeFields) {
      if (value === undefined) {
        if (field !== 'base') source.reportAt(durationAt, `missing '${field}' for a ${duration.known} duration`);
        continue;
      }
      const parsed = parseDuration(value);
      if (!parsed.ok) source.reportAt([...durationAt, ...field.split('.')], parsed.error);
    }
    if (duration.known === 'from-parameters') {
      const referenced = [...Object.keys(duration.per ?? {}), ...(duration.sum ?? [])];
      if (referenced.length === 0) source.reportAt(durationAt, "a from-parameters duration needs 'per' or 'sum'");
      for (const parameter of referenced) {
        const spec = capability.parameters[parameter];
        if (!spec) source.reportAt(durationAt, `duration refers to unknown parameter '${parameter}'`);
        else if (spec.type !== 'number' && spec.type !== 'integer') source.reportAt(durationAt, `duration refers to parameter '${parameter}', which is not a number`);
      }
      for (const parameter of duration.sum ?? []) {
        const unit = capability.parameters[parameter]?.unit;
        if (unit && !parseQuantityIn(`1 ${unit}`, 's').ok) source.reportAt(durationAt, `duration sums parameter '${parameter}', which is not a time`);
      }
    }
  }
}

/**
 * Checks one parameter value against its catalogue entry and normalises it: numbers come back in the
 * catalogue's unit, so "90 min" for a parameter in h becomes 1.5.
 */
export function checkParameterValue(spec: ParameterSpec, value: unknown, options: { numbersInCatalogueUnit?: boolean } = {}): Parsed<string | number | boolean> {
  switch (spec.type) {
    case 'number':
    case 'integer': {
      // YAML authors write units; code that passes normalised values (drivers, simulators) passes numbers.
      const bare = typeof value === 'number' && (options.numbersInCatalogueUnit || !spec.unit);
      const parsed = bare ? { ok: true as const, value: value as number } : parseQuantityIn(value, spec.unit ?? '1');
      if (!parsed.ok) return parsed;
      const n = parsed.value;
      if (spec.type === 'integer' && !Number.isInteger(n)) return { ok: false, error: `expected a whole number, got ${describeValue(value)}` };
      const unit = spec.unit ? canonicalUnit(spec.unit) ?? spec.unit : '1';
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        return { ok: false, error: `${describeValue(value)} is outside the allowed range ${rangeText(spec.min, spec.max, unit)}` };
      }
      return { ok: true, value: n };
    }
    case 'boolean':
      return typeof value === 'boolean' ? { ok: true, value } : { ok: false, error: `expected true or false, got ${describeValue(value)}` };
    case 'enum':
      return typeof value === 'string' && spec.values?.includes(value)
        ? { ok: true, value }
        : { ok: false, error: `expected one of ${(spec.values ?? []).join(', ')}; got ${describeValue(value)}` };
    case 'string':
    case 'position':
      return typeof value === 'string' && value.length > 0 ? { ok: true, value } : { ok: false, error: `expected a non-empty string, got ${describeValue(value)}` };
  }
}

function rangeText(min: number | undefined, max: number | undefined, unit: string): string {
  if (min !== undefined && max !== undefined) return `${formatQuantity(min, unit)} to ${formatQuantity(max, unit)}`;
  if (min !== undefined) return `at least ${formatQuantity(min, unit)}`;
  return `at most ${formatQuantity(max ?? 0, unit)}`;
}

/**
 * Expected duration in seconds for a capability run with already normalised parameters
 * (missing ones take their defaults). A device-reported duration gives its typical value.
 */
export function estimateDuration(capability: CapabilitySpec, parameters: Record<string, string | number | boolean>): number {
  const seconds = (q: string | number | undefined) => {
    if (q === undefined) return 0;
    const parsed = parseDuration(q);
    return parsed.ok ? parsed.value : 0;
  };
  const numeric = (name: string): number => {
    const given = parameters[name];
    if (typeof given === 'number') return given;
    const spec = capability.parameters[name];
    if (spec?.default === undefined) return 0;
    const checked = checkParameterValue(spec, spec.default);
    return checked.ok && typeof checked.value === 'number' ? checked.value : 0;
  };
  const d = capability.duration;
  switch (d.known) {
    case 'fixed':
      return seconds(d.value);
    case 'reported-by-device':
      return seconds(d.typical);
    case 'from-parameters': {
      let total = seconds(d.base);
      for (const [parameter, each] of Object.entries(d.per ?? {})) total += numeric(parameter) * seconds(each);
      for (const parameter of d.sum ?? []) {
        const unit = capability.parameters[parameter]?.unit ?? 's';
        const inSeconds = parseQuantityIn(`${numeric(parameter)} ${unit}`, 's');
        total += inSeconds.ok ? inSeconds.value : 0;
      }
      return total;
    }
  }
}
