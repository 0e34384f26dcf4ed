/**
 * Faults injected into a simulated module, from YAML or at run time. Deterministic: a fault fires on the
 * n-th matching execution (`on`) or with a probability drawn from the module's seeded generator.
 */
import { YamlSource, formatDiagnostic } from '../../config/source.ts';
import { checkAgainstSchema } from '../../config/schema-check.ts';
import type { SeededRandom } from './random.ts';
import type { LayoutModel } from '../../config/layout.ts';
import { checkFaultsFitLayout } from './faults-check.ts';
import { RECOVERY_OPTIONS, type DeviceError, type FaultSpec, type RecoveryOption } from './fault-spec.ts';

export { RECOVERY_OPTIONS, type FaultSpec, type RecoveryOption } from './fault-spec.ts';

export interface RecoverableFault {
  code: DeviceError;
  message: string;
  options: RecoveryOption[];
  defaultOption: RecoveryOption;
  /** The error comes at the first checkpoint at or after this progress (0..1), or at the end at the latest. */
  atFraction: number;
  /** How many times a retry fails again before it succeeds. */
  recurrences: number;
  automaticSelectionSeconds?: number;
}

export interface ExecutionFaults {
  error?: { code: DeviceError; message: string };
  recoverable?: RecoverableFault;
  hang: boolean;
  wrongScan: boolean;
  colonies?: number;
  disconnectMs?: number;
}

export class FaultPlan {
  private readonly executions = new Map<string, number>();

  constructor(private readonly specs: FaultSpec[], private readonly random: SeededRandom) {}

  add(spec: FaultSpec): void {
    this.specs.push(spec);
  }

  /** The faults that apply to the next execution of `capability` (counts it). */
  next(capability: string): ExecutionFaults {
    const faults: ExecutionFaults = { hang: false, wrongScan: false };
    for (const spec of this.specs) {
      if (spec.kind === 'sensor-drift') continue;
      if (spec.capability && spec.capability !== capability) continue;
      const key = JSON.stringify(spec);
      const count = (this.executions.get(key) ?? 0) + 1;
      this.executions.set(key, count);
      const fires = spec.on !== undefined ? spec.on === count : spec.probability !== undefined ? this.random.next() < spec.probability : true;
      if (!fires) continue;
      if (spec.kind === 'error') faults.error = { code: spec.error, message: spec.message ?? `injected ${spec.error}` };
      if (spec.kind === 'recoverable') faults.recoverable = recoverableFault(spec);
      if (spec.kind === 'hang') faults.hang = true;
      if (spec.kind === 'wrong-scan') faults.wrongScan = true;
      if (spec.kind === 'colonies') faults.colonies = spec.count;
      if (spec.kind === 'disconnect') faults.disconnectMs = spec.downSeconds * 1000;
    }
    return faults;
  }

  /** How far a sensor has drifted after `hours` of simulated time. */
  drift(channel: string, hours: number): number {
    return this.specs.reduce((sum, s) => (s.kind === 'sensor-drift' && s.channel === channel ? sum + s.perHour * hours : sum), 0);
  }
}

function recoverableFault(spec: Extract<FaultSpec, { kind: 'recoverable' }>): RecoverableFault {
  const options = spec.options?.length ? [...new Set(spec.options)] : [...RECOVERY_OPTIONS];
  const defaultOption = spec.defaultOption ?? (options.includes('retry') ? 'retry' : options[0]!);
  if (!options.includes(defaultOption)) throw new Error(`recoverable fault: the default option '${defaultOption}' is not among its options ${options.join(', ')}`);
  const code = spec.error ?? 'HardwareFault';
  return {
    code,
    message: spec.message ?? `injected recoverable ${code}`,
    options,
    defaultOption,
    atFraction: spec.atFraction ?? 0.5,
    recurrences: spec.recurrences ?? 0,
    automaticSelectionSeconds: spec.automaticSelectionSeconds,
  };
}

const FAULTS_SCHEMA = new URL('./faults.schema.json', import.meta.url);

/**
 * Faults per module id from a YAML file (faults.schema.json), checked against the layout they are
 * for when given; refused with FILE:LINE:COL of each mistake.
 */
export function readFaultsFile(file: string | undefined, layout?: LayoutModel): Record<string, FaultSpec[]> | undefined {
  if (!file) return undefined;
  const source = YamlSource.read(file);
  const refuse = () => new Error(`invalid faults file:\n${source.diagnostics.map(formatDiagnostic).join('\n')}`);
  if (!source.parsed || !checkAgainstSchema(source, FAULTS_SCHEMA)) throw refuse();
  const faults = (source.data as { faults: Record<string, FaultSpec[]> }).faults;
  if (layout) checkFaultsFitLayout(source, faults, layout);
  checkRecoveryDefaults(source, faults);
  if (source.diagnostics.some((d) => d.severity === 'error')) throw refuse();
  return faults;
}

/** What the schema cannot say: a recoverable fault's default option is one of its options. */
function checkRecoveryDefaults(source: YamlSource, faults: Record<string, FaultSpec[]>): void {
  for (const [moduleId, specs] of Object.entries(faults)) {
    specs.forEach((spec, i) => {
      if (spec.kind === 'recoverable' && spec.defaultOption && spec.options && !spec.options.includes(spec.defaultOption)) {
        source.reportAt(['faults', moduleId, i, 'defaultOption'], `the default option '${spec.defaultOption}' is not among the options ${spec.options.join(', ')}`);
      }
    });
  }
}
