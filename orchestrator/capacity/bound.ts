/**
 * The bottleneck bound: the most patients a week a layout could finish with a schedule if no batch
 * ever waited. Each module kind is busy for a batch while its steps run, while the robot carries the
 * material in, and while a shared module is cleared after it; its modules share that work. The
 * kind with the least capacity bounds the line: no run can do better. Beside it, the rate batches
 * arriving evenly over the lanes (as the twin assigns them, in turn) can keep up with: there a module
 * that serves some lanes only takes the share of batches of those lanes.
 */
import type { LayoutModel, ModuleConfig } from '../../config/layout.ts';
import type { ScheduleModel } from '../../config/schedule.ts';

export const WEEK_MS = 7 * 86400_000;

export interface KindCapacity {
  kind: string;
  /** The modules of this kind any lane may use for the schedule's steps. */
  modules: string[];
  /**
   * How many of them batches spread evenly over the lanes can keep busy: for every set of lanes, the
   * modules serving any of them over the share of batches those lanes get; the least of these.
   */
  effectiveModules: number;
  /** How long one batch keeps one module of the kind from others, ms. */
  perBatchMs: number;
  /** Every module of the kind busy all the time. */
  patientsPerWeek: number;
  /** The effective modules busy all the time. */
  evenLanesPatientsPerWeek: number;
}

export interface BottleneckBound {
  patientsPerWeek: number;
  /** The most constrained kind. */
  kind: string;
  /** The most patients a week that arrive evenly over the lanes the line can keep up with, and the kind that limits it. */
  evenLanes: { patientsPerWeek: number; kind: string };
  byKind: KindCapacity[];
}

export function bottleneckBound(layout: LayoutModel, schedule: ScheduleModel): BottleneckBound {
  const steps = schedule.schedule.steps;
  const lanes = layout.laneIds();
  const work = new Map<string, { modules: Set<string>; perBatchMs: number }>();
  const add = (kind: string, modules: readonly ModuleConfig[], ms: number) => {
    const entry = work.get(kind) ?? work.set(kind, { modules: new Set(), perBatchMs: 0 }).get(kind)!;
    for (const m of modules) entry.modules.add(m.id);
    entry.perBatchMs += ms;
  };
  const arms = layout.robotArms();
  const averageOver = (values: number[]) => (values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length);
  let moves = 0;
  steps.forEach((step, i) => {
    const kind = step.capability.split('.')[0]!;
    const candidates = [...new Set(lanes.flatMap((lane) => layout.modulesFor(lane, step.capability)))];
    // The material stays in its module for consecutive steps of the same kind: no transfer, no clearance between.
    const entering = i === 0 || steps[i - 1]!.capability.split('.')[0] !== kind;
    const transferMs = entering ? averageOver(candidates.map((m) => handlingMs(layout, m))) : 0;
    const leaving = i === steps.length - 1 || steps[i + 1]!.capability.split('.')[0] !== kind;
    const clearanceMs = leaving ? averageOver(candidates.map((m) => (layout.isShared(m) ? (m.lineClearance?.durationMs ?? 0) : 0))) : 0;
    add(kind, candidates, step.expectedDurationMs + 2 * transferMs + clearanceMs);
    if (entering) moves++;
  });
  // Into every step's module, then out to the output; the scan at the intake besides.
  const armMs = averageOver(arms.map((arm) => arm.reach!.transferTimeMs)) * (moves + 1);
  if (arms.length > 0) add('robot-arm', arms, armMs);
  const byKind = [...work].map(([kind, w]) => {
    const effectiveModules = evenSpreadModules([...w.modules].map((id) => layout.modules.get(id)!), layout);
    const perWeek = (modules: number) => (w.perBatchMs > 0 ? (modules * WEEK_MS) / w.perBatchMs : Number.POSITIVE_INFINITY);
    return { kind, modules: [...w.modules], effectiveModules, perBatchMs: w.perBatchMs, patientsPerWeek: perWeek(w.modules.size), evenLanesPatientsPerWeek: perWeek(effectiveModules) };
  });
  const tightest = byKind.reduce((a, b) => (b.patientsPerWeek < a.patientsPerWeek ? b : a));
  const tightestEven = byKind.reduce((a, b) => (b.evenLanesPatientsPerWeek < a.evenLanesPatientsPerWeek ? b : a));
  return { patientsPerWeek: tightest.patientsPerWeek, kind: tightest.kind, evenLanes: { patientsPerWeek: tightestEven.evenLanesPatientsPerWeek, kind: tightestEven.kind }, byKind };
}

/** Beyond this many lanes only single lanes and all of them are tried (2^lanes sets otherwise). */
const MAX_LANES_FOR_EVERY_SET = 16;

/**
 * The modules an even spread of batches over the lanes can use (Hall's condition on the lanes): a set
 * of lanes T gets |T|/L of the batches and only the modules serving a lane of T, so the line runs at
 * most as if it had L × modules(T) / |T| of them.
 */
function evenSpreadModules(modules: readonly ModuleConfig[], layout: LayoutModel): number {
  const lanes = layout.laneIds();
  const serves = modules.map((m) => new Set(layout.lanesOf(m)));
  const sets: string[][] = lanes.length <= MAX_LANES_FOR_EVERY_SET
    ? Array.from({ length: 2 ** lanes.length - 1 }, (_, i) => lanes.filter((_, bit) => ((i + 1) >> bit) & 1))
    : [...lanes.map((lane) => [lane]), lanes];
  return Math.min(...sets.map((set) => (lanes.length * serves.filter((s) => set.some((lane) => s.has(lane))).length) / set.length));
}

/** The longest a robot arm of the layout takes to move material into or out of the module, ms (0 with no arm): as the orchestrator expects it. */
function handlingMs(layout: LayoutModel, module: ModuleConfig): number {
  const position = layout.positionsOf(module)[0];
  if (!position) return 0;
  return Math.max(0, ...layout.robotArms().filter((arm) => arm.reach!.positions.includes(position)).map((arm) => arm.reach!.transferTimeMs));
}
