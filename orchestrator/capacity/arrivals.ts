/**
 * When patients' starting material arrives for a capacity plan: all at once, at a rate (`3/week`,
 * `every 36h`), or on the dates of a YAML or CSV file. Each patient's material is usable for its own
 * viability window after collection (fresh apheresis: about 24-36 h, domain brief section 1); a file
 * may set it per patient. What does not parse is refused with its file position.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileErrorReason } from '../../config/file-errors.ts';
import { formatDiagnostic, YamlSource, type YamlPath } from '../../config/source.ts';
import { parseDuration } from '../../config/units.ts';

/** Fresh apheresis stays usable about 24-36 h after collection (unverified default; set `viability` per patient). */
export const DEFAULT_VIABILITY_MS = 36 * 3600_000;

const WEEK_MS = 7 * 86400_000;

export interface Arrival {
  batchId: string;
  patient: string;
  /** When the bag reaches the intake (workcell clock ms). */
  at: number;
  lane?: string;
  /** When the starting material was collected (ms); the viability window runs from here. */
  collectedAt: number;
  /** After this (ms) the material may no longer be processed. */
  usableUntil: number;
  /** Where a file gave the lane (file:line:col), for saying so when a layout has no such lane. */
  laneGivenAt?: string;
}

/** Input a plan cannot use, said in one line (with file:line:col where it comes from a file). */
export class PlanInputError extends Error {}

/** A span of time in ms: `12w`, `26 weeks`, `36 h`, `90 min`, `3 d`. */
export function parseSpan(text: string, what: string): number {
  const weeks = /^\s*(\d+(?:\.\d+)?)\s*(?:w|wk|weeks?)\s*$/i.exec(text);
  if (weeks) return Number(weeks[1]) * WEEK_MS;
  const parsed = parseDuration(text);
  if (!parsed.ok || !(parsed.value > 0)) throw new PlanInputError(`${what} '${text}' does not parse: give a duration such as 12w, 26 weeks, 10 d or 36 h`);
  return parsed.value * 1000;
}

/** `n` patients, all at `startAt`. */
export function arrivalsAtOnce(n: number, startAt: number, viabilityMs = DEFAULT_VIABILITY_MS): Arrival[] {
  if (!Number.isInteger(n) || n < 1) throw new PlanInputError(`--patients takes a whole number of at least 1, not '${n}'`);
  return Array.from({ length: n }, (_, i) => patientAt(i, startAt, viabilityMs));
}

export interface ArrivalWindow {
  /** -Infinity for a file: the plan starts at its first arrival. */
  startAt: number;
  /** Arrivals at a rate fill [startAt, startAt + horizonMs). */
  horizonMs: number;
  viabilityMs?: number;
}

/**
 * The arrivals an `--arrivals` value names: `N/week` (also /day, /h), `every DURATION`, or a file
 * (.yaml, .yml, .csv). Arrivals at a rate are evenly spaced from the start.
 */
export function arrivalsFromSpec(spec: string, window: ArrivalWindow): Arrival[] {
  const viabilityMs = window.viabilityMs ?? DEFAULT_VIABILITY_MS;
  const interval = intervalOf(spec);
  if (interval !== undefined) {
    const arrivals: Arrival[] = [];
    // Whole milliseconds: 91 × (1 week / 13) is 7 weeks, not a hair under it.
    for (let i = 0; Math.round(i * interval) < window.horizonMs; i++) arrivals.push(patientAt(i, window.startAt + Math.round(i * interval), viabilityMs));
    return arrivals;
  }
  const extension = extname(spec).toLowerCase();
  if (extension === '.yaml' || extension === '.yml') return arrivalsFromYaml(YamlSource.read(spec), window);
  if (extension === '.csv') return arrivalsFromCsv(spec, readText(spec), window);
  throw new PlanInputError(`--arrivals '${spec}' does not parse: give a rate (3/week, 2/day, every 36h) or a file of dates (.yaml, .yml or .csv)`);
}

/** The time between arrivals of a rate spec in ms; undefined when `spec` is no rate. */
function intervalOf(spec: string): number | undefined {
  const rate = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(week|wk|w|day|d|hour|h)\s*$/i.exec(spec);
  if (rate) {
    const per = { w: WEEK_MS, d: 86400_000, h: 3600_000 }[rate[2]!.toLowerCase()[0] as 'w' | 'd' | 'h'];
    const count = Number(rate[1]);
    if (!(count > 0)) throw new PlanInputError(`--arrivals '${spec}': the rate must be more than 0`);
    return per / count;
  }
  const every = /^\s*every\s+(.+)$/i.exec(spec);
  if (every) return parseSpan(every[1]!, `--arrivals '${spec}': the interval`);
  return undefined;
}

function patientAt(index: number, at: number, viabilityMs: number): Arrival {
  const id = `P-${String(index + 1).padStart(3, '0')}`;
  return { batchId: id, patient: id, at, collectedAt: at, usableUntil: at + viabilityMs };
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new PlanInputError(`cannot read ${file}: ${fileErrorReason(error as NodeJS.ErrnoException)}`);
  }
}

/** The fields an arrival of a file may give; `at` is required. */
const FIELDS = ['at', 'patient', 'lane', 'viability', 'collected'] as const;
type Field = (typeof FIELDS)[number];

/** One arrival as a file writes it, and how to point at each of its values. */
interface ArrivalRow {
  values: Partial<Record<Field, unknown>>;
  where: (field: Field | undefined) => string;
}

/**
 * A YAML file: a list (or `arrivals:` holding one) of dates, or of mappings with `at` and optionally
 * `patient`, `lane`, `viability` (a duration) and `collected` (a date).
 */
export function arrivalsFromYaml(source: YamlSource, window: ArrivalWindow): Arrival[] {
  if (!source.parsed) throw new PlanInputError(source.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n'));
  const data = source.data;
  const wrapped = data !== null && typeof data === 'object' && !Array.isArray(data) && 'arrivals' in data;
  const list = wrapped ? (data as { arrivals: unknown }).arrivals : data;
  const base: YamlPath = wrapped ? ['arrivals'] : [];
  const at = (path: YamlPath, anchor: 'key' | 'value' = 'value') => {
    const { line, col } = source.positionOf(path, anchor);
    return `${source.file}:${line}:${col}`;
  };
  if (!Array.isArray(list) || list.length === 0) throw new PlanInputError(`${at(base)}: expected a list of arrivals (dates, or mappings with 'at'), as in docs/plan.md`);
  const rows = list.map((item: unknown, i): ArrivalRow => {
    const path: YamlPath = [...base, i];
    if (typeof item === 'string' || item instanceof Date) return { values: { at: item }, where: () => at(path) };
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new PlanInputError(`${at(path)}: an arrival is a date or a mapping with 'at'`);
    for (const key of Object.keys(item)) {
      if (!(FIELDS as readonly string[]).includes(key)) throw new PlanInputError(`${at([...path, key], 'key')}: unknown field '${key}' of an arrival (fields: ${FIELDS.join(', ')})`);
    }
    return { values: item as ArrivalRow['values'], where: (field) => at(field ? [...path, field] : path) };
  });
  return arrivalsOf(rows, window, source.file);
}

/** A CSV file: a header naming the columns (`at` required; `patient`, `lane`, `viability`, `collected`), then one arrival a line. */
export function arrivalsFromCsv(file: string, text: string, window: ArrivalWindow): Arrival[] {
  const lines = text.split(/\r?\n/);
  const content = lines.map((line, i) => ({ line, number: i + 1 })).filter((l) => l.line.trim() !== '' && !l.line.trimStart().startsWith('#'));
  const header = content[0];
  if (!header) throw new PlanInputError(`${file}:1:1: expected a header line naming the columns (at, patient, lane, viability, collected), then one arrival a line`);
  const columns = cells(header.line);
  columns.forEach((c) => {
    if (!(FIELDS as readonly string[]).includes(c.text)) throw new PlanInputError(`${file}:${header.number}:${c.col}: unknown column '${c.text}' (columns: ${FIELDS.join(', ')})`);
  });
  if (!columns.some((c) => c.text === 'at')) throw new PlanInputError(`${file}:${header.number}:1: the header needs an 'at' column: when each patient's material arrives`);
  const rows = content.slice(1).map((row): ArrivalRow => {
    const values = cells(row.line);
    if (values.length > columns.length) throw new PlanInputError(`${file}:${row.number}:${values[columns.length]!.col}: more values than the header names columns (${columns.length})`);
    const byField: ArrivalRow['values'] = {};
    columns.forEach((c, i) => {
      if (values[i] && values[i]!.text !== '') byField[c.text as Field] = values[i]!.text;
    });
    return { values: byField, where: (field) => `${file}:${row.number}:${values[columns.findIndex((c) => c.text === field)]?.col ?? 1}` };
  });
  if (rows.length === 0) throw new PlanInputError(`${file}:${header.number}:1: no arrivals after the header`);
  return arrivalsOf(rows, window, file);
}

/** A CSV line's cells with the column each starts at (no quoting: dates, ids and durations need none). */
function cells(line: string): Array<{ text: string; col: number }> {
  const out: Array<{ text: string; col: number }> = [];
  let col = 1;
  for (const raw of line.split(',')) {
    const lead = raw.length - raw.trimStart().length;
    out.push({ text: raw.trim(), col: col + lead });
    col += raw.length + 1;
  }
  return out;
}

function arrivalsOf(rows: readonly ArrivalRow[], window: ArrivalWindow, file: string): Arrival[] {
  const seen = new Set<string>();
  const times = rows.map((row) => {
    if (row.values.at === undefined) throw new PlanInputError(`${row.where(undefined)}: an arrival needs 'at': when the material reaches the intake`);
    return dateOf(row.values.at, row.where('at'), 'at');
  });
  // No start given: the plan starts with the first arrival.
  const start = Number.isFinite(window.startAt) ? window.startAt : Math.min(...times);
  const end = start + window.horizonMs;
  const arrivals = rows.map((row, i): Arrival => {
    const at = times[i]!;
    if (at < start || at >= end) throw new PlanInputError(`${row.where('at')}: ${new Date(at).toISOString()} is outside the plan's horizon (${new Date(start).toISOString()} to ${new Date(end).toISOString()})`);
    const patient = row.values.patient === undefined ? `P-${String(i + 1).padStart(3, '0')}` : String(row.values.patient);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(patient)) throw new PlanInputError(`${row.where('patient')}: a patient id is letters, digits, '.', '_' and '-', not '${patient}'`);
    if (seen.has(patient)) throw new PlanInputError(`${row.where('patient')}: patient ${patient} arrives twice in ${file}`);
    seen.add(patient);
    const collectedAt = row.values.collected === undefined ? at : dateOf(row.values.collected, row.where('collected'), 'collected');
    if (collectedAt > at) throw new PlanInputError(`${row.where('collected')}: the material is collected after it arrives`);
    const viabilityMs = row.values.viability === undefined ? (window.viabilityMs ?? DEFAULT_VIABILITY_MS) : viabilityOf(row.values.viability, row.where('viability'));
    const lane = row.values.lane === undefined ? undefined : String(row.values.lane);
    return { batchId: patient, patient, at, ...(lane !== undefined ? { lane, laneGivenAt: row.where('lane') } : {}), collectedAt, usableUntil: collectedAt + viabilityMs };
  });
  return arrivals.sort((a, b) => a.at - b.at);
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$/;

/** An ISO 8601 date (a time without a zone is UTC). */
function dateOf(value: unknown, where: string, field: string): number {
  if (value instanceof Date) return value.getTime();
  const text = String(value).trim();
  if (!ISO_DATE.test(text)) throw new PlanInputError(`${where}: '${field}' takes an ISO 8601 date such as 2026-03-02T08:00Z, not '${text}'`);
  const zoned = /(?:Z|[+-]\d{2}:?\d{2})$/.test(text) || !text.includes(':') ? text : `${text}Z`;
  const ms = Date.parse(text.length === 10 ? `${text}T00:00Z` : zoned.replace(' ', 'T'));
  if (!Number.isFinite(ms)) throw new PlanInputError(`${where}: '${text}' is no date`);
  return ms;
}

function viabilityOf(value: unknown, where: string): number {
  const parsed = parseDuration(value);
  if (!parsed.ok || !(parsed.value > 0)) throw new PlanInputError(`${where}: 'viability' takes a duration such as 36 h${parsed.ok ? '' : `: ${parsed.error}`}`);
  return parsed.value * 1000;
}
