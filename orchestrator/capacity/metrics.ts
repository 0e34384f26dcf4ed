/**
 * The capacity figures of one run (one seed) from its timeline: throughput in steady state,
 * vein-to-vein times, module utilisation, time lost to line clearance and transfers, waits by their
 * cause, hold-time slack, every hold-time deviation with its cause, holds, and what a planner must
 * know about single batches (material that expired before its first step, batches not finished).
 */
import type { LayoutModel } from '../../config/layout.ts';
import type { ScheduleModel, Step } from '../../config/schedule.ts';
import type { Arrival } from './arrivals.ts';
import { WEEK_MS } from './bound.ts';
import { clippedLength, type HoldOpened, type Timeline, type WaitForModule } from './timeline.ts';

/** Shorter gaps are the orchestrator's own handling between entries, not waits for a module. */
export const MIN_WAIT_MS = 60_000;

export interface ModuleUse {
  id: string;
  kind: string;
  /** Held by a batch (reserved to released), ms. */
  occupiedMs: number;
  /** Running device commands, ms. */
  processingMs: number;
  clearanceMs: number;
  /** Share of the window the module was not available to another batch: occupied or cleared (robot arms: moving). */
  utilisation: number;
}

/** A stretch of a batch's wait for a module, with its cause. */
export interface WaitPiece {
  batchId: string;
  step: string;
  reason: string;
  from: number;
  until: number;
  /** The batches occupying the modules it waited for, when they were busy. */
  occupants: string[];
}

export interface HoldTimeDeviation {
  batchId: string;
  step: string;
  at: number;
  /** How far past the deadline the material entered its next module, ms (to the end of the run if it never did). */
  overMs: number;
  cause: string;
  message: string;
}

export interface RunMetrics {
  window: { from: number; until: number };
  arrived: number;
  completed: number;
  quarantined: number;
  patientsPerWeek: number;
  /** Whether the throughput was measured after the line filled (a week or more of steady state). */
  steadyState: boolean;
  /** Completions in each week after the line filled. */
  weekly: number[];
  veinToVeinMs: number[];
  modules: ModuleUse[];
  lineClearanceMs: number;
  transfers: { count: number; ms: number };
  waits: WaitPiece[];
  holdSlackMs: Map<string, number[]>;
  holdTimeDeviations: HoldTimeDeviation[];
  holds: HoldOpened[];
  deviationsByKind: Map<string, number>;
  findings: Array<{ batchId: string; message: string }>;
}

export interface RunContext {
  layout: LayoutModel;
  schedule: ScheduleModel;
  arrivals: readonly Arrival[];
  startAt: number;
  horizonMs: number;
}

export function runMetrics(timeline: Timeline, context: RunContext): RunMetrics {
  const from = context.startAt;
  const until = Math.min(from + context.horizonMs, Math.max(timeline.end, from + 1));
  const arrivals = new Map(context.arrivals.map((a) => [a.batchId, a]));
  const batches = [...timeline.batches.values()];
  const completions = batches.filter((b) => b.completedAt !== undefined && b.completedAt <= until).map((b) => b.completedAt!).sort((a, b) => a - b);
  const throughput = steadyThroughput(completions, from, until);
  const veinToVeinMs = batches.filter((b) => b.completedAt !== undefined).map((b) => b.completedAt! - (arrivals.get(b.batchId)?.at ?? b.startedAt));
  const waits = timeline.waits.flatMap((w) => waitPieces(w, timeline, context.layout, context.schedule)).filter((p) => p.until - p.from >= MIN_WAIT_MS);
  const holdSlackMs = new Map<string, number[]>();
  for (const window of timeline.holdWindows) {
    if (window.within === undefined) continue;
    (holdSlackMs.get(window.step) ?? holdSlackMs.set(window.step, []).get(window.step)!).push(window.deadline - window.until);
  }
  const deviationsByKind = new Map<string, number>();
  for (const d of timeline.deviations) deviationsByKind.set(d.kind, (deviationsByKind.get(d.kind) ?? 0) + 1);
  const allTransfers = timeline.transfers.filter((t) => t.from >= from && t.from < until);
  return {
    window: { from, until },
    arrived: batches.length,
    completed: completions.length,
    quarantined: batches.filter((b) => b.quarantinedAt !== undefined).length,
    ...throughput,
    veinToVeinMs,
    modules: moduleUse(timeline, context.layout, from, until),
    lineClearanceMs: [...timeline.clearances.values()].flat().reduce((sum, c) => sum + clippedLength(c, from, until), 0),
    transfers: { count: allTransfers.length, ms: allTransfers.reduce((sum, t) => sum + (t.until - t.from), 0) },
    waits,
    holdSlackMs,
    holdTimeDeviations: holdTimeDeviations(timeline, waits),
    holds: timeline.holds,
    deviationsByKind,
    findings: findings(timeline, context, until),
  };
}

/**
 * Completions a week once the line has filled: from the first completion (one batch's time through an
 * empty line) to the end of the window. Less than a week of that: over the whole window instead.
 */
export function steadyThroughput(completions: readonly number[], from: number, until: number): { patientsPerWeek: number; steadyState: boolean; weekly: number[] } {
  const filled = completions[0];
  if (filled === undefined) return { patientsPerWeek: 0, steadyState: false, weekly: [] };
  const weeks = Math.floor((until - filled) / WEEK_MS);
  if (weeks < 1) return { patientsPerWeek: (completions.length * WEEK_MS) / Math.max(until - from, 1), steadyState: false, weekly: [] };
  // Whole weeks after the first completion, that one excluded: it marks the line full.
  const weekly = Array.from({ length: weeks }, (_, w) => completions.filter((t) => t > filled + w * WEEK_MS && t <= filled + (w + 1) * WEEK_MS).length);
  return { patientsPerWeek: weekly.reduce((a, b) => a + b, 0) / weeks, steadyState: true, weekly };
}

function moduleUse(timeline: Timeline, layout: LayoutModel, from: number, until: number): ModuleUse[] {
  const span = until - from;
  return layout.layout.modules.map((module) => {
    const sum = (intervals: ReadonlyArray<{ from: number; until: number }> | undefined) => (intervals ?? []).reduce((total, i) => total + clippedLength(i, from, until), 0);
    const occupiedMs = sum(timeline.occupancy.get(module.id));
    const processingMs = sum(timeline.commands.get(module.id));
    const clearanceMs = sum(timeline.clearances.get(module.id));
    // An arm is taken while it moves; a module while a batch holds it or it is cleared (settle-plate incubation takes none).
    const unavailable = module.kind === 'robot-arm' ? processingMs : occupiedMs + clearanceMs;
    return { id: module.id, kind: module.kind, occupiedMs, processingMs, clearanceMs, utilisation: span > 0 ? Math.min(1, unavailable / span) : 0 };
  });
}

/**
 * Why a batch waited, stretch by stretch, from what the modules it could use were doing: every one
 * busy with other batches, one in line clearance, or one free that the scheduler did not grant. The
 * scheduler looks ahead over the hold times of the steps after and waits where a later step could not
 * start in time; with the schedule given, such a stretch names the later step whose modules were all
 * taken then.
 */
export function waitPieces(wait: WaitForModule, timeline: Timeline, layout: LayoutModel, schedule?: ScheduleModel): WaitPiece[] {
  const kindOf = (capability: string) => capability.split('.')[0] || 'module';
  const modulesFor = (capability: string) => layout.modulesFor(wait.lane, capability).map((m) => m.id);
  const kind = kindOf(wait.capability);
  const candidates = modulesFor(wait.capability);
  // Holding a module for the step already (the step before ran on it), the batch waits for no module:
  // the gap is what precedes the work there (a settle plate placed, the lock taken).
  const holdsOne = candidates.some((id) => (timeline.occupancy.get(id) ?? []).some((o) => o.batchId === wait.batchId && o.from <= wait.from && wait.from < o.until));
  if (holdsOne) return [];
  const chain = (schedule ? holdChain(schedule, wait.step) : []).map((step) => ({ step: step.id, kind: kindOf(step.capability), modules: modulesFor(step.capability) }));
  const within = (i: { from: number; until: number }) => i.until > wait.from && i.from < wait.until;
  const history = new Map(
    [...new Set([...candidates, ...chain.flatMap((link) => link.modules)])].map((id) => [id, { occupancy: (timeline.occupancy.get(id) ?? []).filter((o) => o.batchId !== wait.batchId && within(o)), clearances: (timeline.clearances.get(id) ?? []).filter(within) }]),
  );
  const stateAt = (ids: readonly string[], t: number) =>
    ids.map((id) => ({ holder: history.get(id)!.occupancy.find((o) => o.from <= t && t < o.until)?.batchId, clearing: history.get(id)!.clearances.some((c) => c.from <= t && t < c.until) }));
  const holdersOf = (states: ReturnType<typeof stateAt>) => [...new Set(states.map((st) => st.holder).filter((h): h is string => h !== undefined))];
  const cuts = new Set([wait.from, wait.until]);
  for (const { occupancy, clearances } of history.values()) for (const i of [...occupancy, ...clearances]) for (const t of [i.from, i.until]) if (t > wait.from && t < wait.until) cuts.add(t);
  const times = [...cuts].sort((a, b) => a - b);
  const pieces: WaitPiece[] = [];
  for (let i = 0; i + 1 < times.length; i++) {
    const mid = (times[i]! + times[i + 1]!) / 2;
    const here = stateAt(candidates, mid);
    const taken = (states: ReturnType<typeof stateAt>) => states.length > 0 && states.every((st) => st.holder !== undefined || st.clearing);
    const blocked = taken(here) ? undefined : chain.find((link) => taken(stateAt(link.modules, mid)));
    const { reason, occupants } =
      candidates.length === 0 ? { reason: `no ${kind} serves the lane`, occupants: [] }
      : taken(here) ? { reason: here.some((st) => st.clearing) ? `${kind} in line clearance` : `${kind} busy with other batches`, occupants: holdersOf(here) }
      : blocked ? { reason: `${kind} free, held back for ${blocked.step}: ${blocked.kind} busy (hold-time lookahead)`, occupants: holdersOf(stateAt(blocked.modules, mid)) }
      : { reason: `${kind} free but not granted (hold-time lookahead of the steps after)`, occupants: [] };
    const last = pieces.at(-1);
    if (last && last.reason === reason && last.until === times[i]) {
      last.until = times[i + 1]!;
      last.occupants = [...new Set([...last.occupants, ...occupants])];
    } else pieces.push({ batchId: wait.batchId, step: wait.step, reason, from: times[i]!, until: times[i + 1]!, occupants });
  }
  return pieces;
}

/** The steps after `stepId` that follow it within hold times, as the scheduler's lookahead sees them. */
function holdChain(schedule: ScheduleModel, stepId: string): Step[] {
  const steps = schedule.schedule.steps;
  const chain: Step[] = [];
  for (let i = steps.findIndex((s) => s.id === stepId); i >= 0 && i + 1 < steps.length && steps[i]!.maxHoldMs !== undefined; i++) chain.push(steps[i + 1]!);
  return chain;
}

/** Each hold-time-exceeded deviation, with what the material waited for during that hold time. */
function holdTimeDeviations(timeline: Timeline, waits: readonly WaitPiece[]): HoldTimeDeviation[] {
  return timeline.deviations
    .filter((d) => d.kind === 'hold-time-exceeded')
    .map((d) => {
      const window = timeline.holdWindows.filter((w) => w.batchId === d.batchId && w.step === d.holdOf && w.from <= d.at).at(-1);
      const deadline = d.deadline ?? window?.deadline ?? d.at;
      const overMs = Math.max(0, (window?.until ?? timeline.end) - deadline);
      const since = window?.from ?? d.at;
      const during = (i: { from: number; until: number }) => clippedLength(i, since, Math.max(d.at, window?.until ?? d.at));
      const byReason = new Map<string, { ms: number; occupants: Set<string> }>();
      for (const piece of waits.filter((p) => p.batchId === d.batchId)) {
        const ms = during(piece);
        if (ms <= 0) continue;
        const entry = byReason.get(piece.reason) ?? byReason.set(piece.reason, { ms: 0, occupants: new Set() }).get(piece.reason)!;
        entry.ms += ms;
        for (const o of piece.occupants) entry.occupants.add(o);
      }
      const held = timeline.holds.filter((h) => h.batchId === d.batchId && during({ from: h.openedAt, until: h.resolvedAt ?? timeline.end }) > 0);
      const main = [...byReason].sort((a, b) => b[1].ms - a[1].ms)[0];
      const cause = held.length > 0
        ? `held for an operator (${held.map((h) => `${h.kind}: ${h.message}`).join('; ')})`
        : main
          ? `waited ${minutesText(main[1].ms)} for ${main[0].replace(/^(\S+) /, '$1: ')}${main[1].occupants.size > 0 ? ` (${[...main[1].occupants].join(', ')})` : ''}`
          : 'no wait for a module: the transfer or the work before the next step outlasted the hold time';
      return { batchId: d.batchId, step: d.holdOf ?? '', at: d.at, overMs, cause, message: d.message };
    });
}

function findings(timeline: Timeline, context: RunContext, until: number): Array<{ batchId: string; message: string }> {
  const out: Array<{ batchId: string; message: string }> = [];
  const first = context.schedule.schedule.steps[0]?.id ?? 'the first step';
  for (const arrival of context.arrivals) {
    const batch = timeline.batches.get(arrival.batchId);
    if (!batch) {
      out.push({ batchId: arrival.batchId, message: `never started (arrived ${new Date(arrival.at).toISOString()})` });
      continue;
    }
    const startedWork = batch.firstWorkAt ?? until;
    if (startedWork > arrival.usableUntil) out.push({ batchId: arrival.batchId, message: `starting material expired at ${new Date(arrival.usableUntil).toISOString()}, ${minutesText(startedWork - arrival.usableUntil)} before ${first} ${batch.firstWorkAt === undefined ? 'could start' : 'started'}` });
    // A batch that arrived less than one batch's steps before the end is merely still running.
    const shouldHaveFinished = arrival.at + context.schedule.totalExpectedDuration() * 1000 <= until;
    if (batch.quarantinedAt !== undefined) out.push({ batchId: arrival.batchId, message: 'quarantined (aborted)' });
    else if (batch.completedAt === undefined && shouldHaveFinished) out.push({ batchId: arrival.batchId, message: `not finished by the end of the run, ${minutesText(until - arrival.at)} after it arrived (its steps take ${minutesText(context.schedule.totalExpectedDuration() * 1000)})` });
  }
  return out;
}

export function minutesText(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 120) return `${minutes} min`;
  const hours = ms / 3600_000;
  return hours < 48 ? `${Math.round(hours * 10) / 10} h` : `${Math.round((hours / 24) * 10) / 10} d`;
}
