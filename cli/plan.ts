/** `workcell plan`: capacity planning on the digital twin (docs/plan.md). */
import { accessSync, constants, existsSync } from 'node:fs';
import { fileErrorReason } from '../config/file-errors.ts';
import { arrivalsAtOnce, arrivalsFromSpec, parseSpan, PlanInputError, DEFAULT_VIABILITY_MS, type Arrival } from '../orchestrator/capacity/arrivals.ts';
import { parseAddition } from '../orchestrator/capacity/layout-additions.ts';
import { planHtml } from '../orchestrator/capacity/report-html.ts';
import { planReportSchemaDocument } from '../orchestrator/capacity/report-schema.ts';
import { planText } from '../orchestrator/capacity/report-text.ts';
import { writeOutputFile } from './output-file.ts';
import { PlanProgressBar } from './plan-progress.ts';
import { runPlan, SCHEDULERS, type PlanInput } from './plan-run.ts';
import { UsageError } from './usage.ts';
import { wallNow } from '../drivers/clock.ts';

export interface PlanOptions {
  schedule?: string[];
  patients?: string;
  arrivals?: string;
  horizon: string;
  start?: string;
  viability: string;
  seed: string;
  seeds: string;
  faults?: string;
  scheduler?: string[];
  add?: string[];
  json?: boolean;
  jsonSchema?: boolean;
  html?: string;
  force?: boolean;
  keep?: string;
}

/** `workcell plan LAYOUT...`. */
export async function plan([layoutFiles = []]: [string[] | undefined], options: PlanOptions): Promise<number> {
  if (options.jsonSchema) {
    process.stdout.write(`${JSON.stringify(planReportSchemaDocument(), null, 2)}\n`);
    return 0;
  }
  const input = planInput(layoutFiles, options);
  // Said before the runs, not after them: minutes of simulation are not lost to a file in the way.
  if (options.html && existsSync(options.html) && !options.force) throw new UsageError(`--html ${options.html} exists; give --force to replace it, or name another file`);
  const bar = new PlanProgressBar();
  let result: Awaited<ReturnType<typeof runPlan>>;
  try {
    result = await runPlan(input, (progress) => bar.update(progress));
  } catch (error) {
    throw error instanceof PlanInputError ? new UsageError(error.message) : error;
  } finally {
    bar.done();
  }
  process.stdout.write(options.json ? `${JSON.stringify(result.report, null, 2)}\n` : planText(result.report));
  if (options.html) {
    writeOutputFile(options.html, planHtml(result.report, result.outcomes.map((seeds) => seeds[0]?.timeline)), { force: options.force === true });
    if (!options.json) process.stdout.write(`HTML report: ${options.html}\n`);
  }
  return 0;
}

/** Every option checked before anything runs; what is wrong is said in one line. */
export function planInput(layoutFiles: readonly string[], options: PlanOptions): PlanInput {
  try {
    const scheduleFiles = options.schedule ?? [];
    if (layoutFiles.length === 0) throw new UsageError('name at least one layout file');
    if (scheduleFiles.length === 0) throw new UsageError('--schedule FILE is required (once per schedule to compare)');
    if ((options.patients === undefined) === (options.arrivals === undefined)) throw new UsageError('give either --patients N (all at once) or --arrivals SPEC (3/week, every 36h, or a file of dates)');
    const horizonMs = parseSpan(options.horizon, '--horizon');
    const viabilityMs = options.viability ? parseSpan(options.viability, '--viability') : DEFAULT_VIABILITY_MS;
    const seed = wholeNumber(options.seed, '--seed', 0);
    const seedCount = wholeNumber(options.seeds, '--seeds', 1);
    const schedulers = options.scheduler && options.scheduler.length > 0 ? options.scheduler : ['deadline-first'];
    for (const name of schedulers) if (!SCHEDULERS[name]) throw new UsageError(`--scheduler ${name}: no such scheduler (schedulers: ${Object.keys(SCHEDULERS).join(', ')})`);
    for (const file of [...layoutFiles, ...scheduleFiles, ...(options.faults ? [options.faults] : [])]) readable(file);
    const start = startOf(options.start);
    const arrivals = arrivalsOf(options, start, horizonMs, viabilityMs);
    const startAt = start ?? Math.min(...arrivals.map((a) => a.at));
    return {
      layoutFiles,
      scheduleFiles,
      schedulers,
      additions: (options.add ?? []).map(parseAddition),
      arrivals,
      arrivalSpec: options.patients !== undefined ? `--patients ${options.patients}` : options.arrivals!,
      startAt,
      horizonMs,
      seeds: Array.from({ length: seedCount }, (_, i) => seed + i),
      faultsFile: options.faults,
      keepDirectory: options.keep,
    };
  } catch (error) {
    throw error instanceof PlanInputError ? new UsageError(error.message) : error;
  }
}

/** `--start`: an ISO date; by default today 08:00 UTC (a file of dates: its first arrival). */
function startOf(given: string | undefined): number | undefined {
  if (given === undefined) return undefined;
  const ms = Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(given) || !given.includes('T') ? given : `${given}Z`);
  if (!Number.isFinite(ms)) throw new UsageError(`--start '${given}' is no date: give an ISO 8601 date such as 2027-01-04T08:00Z`);
  return ms;
}

function arrivalsOf(options: PlanOptions, start: number | undefined, horizonMs: number, viabilityMs: number): Arrival[] {
  const today = new Date(wallNow());
  const defaultStart = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate(), 8);
  if (options.patients !== undefined) {
    const n = Number(options.patients);
    if (!Number.isInteger(n) || n < 1) throw new UsageError('--patients takes a whole number of at least 1');
    return arrivalsAtOnce(n, start ?? defaultStart, viabilityMs);
  }
  const spec = options.arrivals!;
  const isFile = /\.(ya?ml|csv)$/i.test(spec);
  // A file of dates starts the plan at its first arrival unless --start says otherwise.
  return arrivalsFromSpec(spec, { startAt: start ?? (isFile ? Number.NEGATIVE_INFINITY : defaultStart), horizonMs, viabilityMs });
}

/** A file named on the command line that cannot be read is said so before anything runs. */
function readable(file: string): void {
  try {
    accessSync(file, constants.R_OK);
  } catch (error) {
    throw new Error(`cannot read ${file}: ${fileErrorReason(error as NodeJS.ErrnoException)}`);
  }
}

function wholeNumber(given: string, name: string, minimum: number): number {
  const value = Number(given);
  if (!Number.isInteger(value) || value < minimum) throw new UsageError(`${name} takes a whole number${minimum > 0 ? ` of at least ${minimum}` : ''}, not '${given}'`);
  return value;
}
