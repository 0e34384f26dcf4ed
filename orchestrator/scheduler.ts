/**
 * Which waiting step gets which module. One narrow interface (`Scheduler.decide`) so that a better
 * optimiser can replace the default without touching the rest of the orchestrator. Every request that
 * is not granted comes back with the reason in words an operator understands.
 */
import { timeOfDay } from '../drivers/clock.ts';
import type { ModuleState } from '../config/state-model.ts';

export interface AllocationRequest {
  batchId: string;
  stepId: string;
  /** "kind.capability", e.g. "electroporator.electroporate". */
  capability: string;
  /** Modules the layout allows for the batch's lane and this capability, in layout order. */
  candidates: string[];
  /** Latest time (clock ms) the step should start before its hold time is exceeded. */
  holdDeadline?: number;
  /** When the batch started waiting for this step (clock ms). */
  waitingSince: number;
  /** A module the step must not use (the one it failed on, when moving to an alternate). */
  avoid?: string[];
  /** Expected duration of the step, ms. */
  durationMs?: number;
  /**
   * The steps that must follow this one, each within the previous step's hold time. Starting a chain of
   * steps that cannot all be served in time would turn a wait the scheduler can see coming into a
   * hold-time deviation; better to wait before it, or within a longer hold already running.
   */
  holdChain?: ChainLink[];
}

export interface ChainLink {
  stepId: string;
  capability: string;
  candidates: string[];
  durationMs: number;
  /** Moving the material in, which the hold before this step still covers, ms. */
  transferMs: number;
  /** The longest the material may wait between the previous step's end and this step's start, ms. */
  afterHoldMs: number;
}

export interface ModuleView {
  id: string;
  kind: string;
  state: ModuleState;
  /** The batch whose material is in the module, or that has it reserved. */
  occupiedBy?: string;
  /** Expected time (clock ms) the occupying batch releases it. */
  busyUntil?: number;
  /** Line clearance this module needs before it serves `batchId`, in ms; 0 when none is due. */
  clearanceBefore(batchId: string): number;
  /** Why the module may not be allocated at all (expired qualification, ...); undefined when it may. */
  unusable?: string;
}

export interface Grant {
  request: AllocationRequest;
  module: string;
  /** Line clearance to run before the batch's material enters, ms (0 for none). */
  clearanceMs: number;
}

export interface Decision {
  grants: Grant[];
  /** Why each request not granted waits, by batch id. */
  waits: Map<string, string>;
  /**
   * When each wait is expected to end (clock ms), where the scheduler can tell: the watchdog of waits
   * escalates one that lasts well past it. Absent or infinite: no end in sight (a module in a state
   * nothing explains, one that may not be used).
   */
  expectedBy?: Map<string, number>;
}

export interface Scheduler {
  decide(requests: readonly AllocationRequest[], modules: ReadonlyMap<string, ModuleView>, now: number): Decision;
}

/** What a batch keeps of its running hold time when it waits in it for later steps: room for the transfer. */
const HOLD_MARGIN_MS = 10 * 60_000;

/** Earliest hold-time deadline first, then the longest waiting; each takes the best free module. */
export class DeadlineFirstScheduler implements Scheduler {
  decide(requests: readonly AllocationRequest[], modules: ReadonlyMap<string, ModuleView>, now: number): Decision {
    const ordered = [...requests].sort(byUrgency);
    const taken = new Map<string, AllocationRequest>();
    const grants: Grant[] = [];
    const waits = new Map<string, string>();
    const expectedBy = new Map<string, number>();
    for (const request of ordered) {
      const free = request.candidates
        .map((id) => modules.get(id))
        .filter((m): m is ModuleView => !!m && !m.unusable && m.state === 'idle' && !m.occupiedBy && !taken.has(m.id) && !request.avoid?.includes(m.id))
        // A module that needs no line clearance first: it starts the step sooner.
        .sort((a, b) => a.clearanceBefore(request.batchId) - b.clearanceBefore(request.batchId));
      const chosen = free[0];
      // Inside a hold window the batch may wait for its chain only while that hold still allows it.
      const mayWait = request.holdDeadline === undefined || now < request.holdDeadline - HOLD_MARGIN_MS;
      const tooEarly = chosen && mayWait ? chainWait(request, now + chosen.clearanceBefore(request.batchId), modules, now) : undefined;
      if (chosen && !tooEarly) {
        taken.set(chosen.id, request);
        grants.push({ request, module: chosen.id, clearanceMs: chosen.clearanceBefore(request.batchId) });
      } else {
        const wait = tooEarly ?? waitFor(request, modules, taken, now);
        waits.set(request.batchId, wait.text);
        expectedBy.set(request.batchId, wait.until);
      }
    }
    return { grants, waits, expectedBy };
  }
}

function byUrgency(a: AllocationRequest, b: AllocationRequest): number {
  const deadlineA = a.holdDeadline ?? Number.POSITIVE_INFINITY;
  const deadlineB = b.holdDeadline ?? Number.POSITIVE_INFINITY;
  if (deadlineA !== deadlineB) return deadlineA - deadlineB;
  if (a.waitingSince !== b.waitingSince) return a.waitingSince - b.waitingSince;
  return a.batchId < b.batchId ? -1 : a.batchId > b.batchId ? 1 : 0;
}

/** "waiting for electroporator ep-1: busy with P-001 until 10:42, then line clearance (15 min)" */
export function explainWait(request: AllocationRequest, modules: ReadonlyMap<string, ModuleView>, takenThisRound: ReadonlyMap<string, AllocationRequest>, now: number): string {
  return waitFor(request, modules, takenThisRound, now).text;
}

/** A wait in words and when it is expected to end (clock ms; infinite when nothing says). */
interface Wait {
  text: string;
  until: number;
}

function waitFor(request: AllocationRequest, modules: ReadonlyMap<string, ModuleView>, takenThisRound: ReadonlyMap<string, AllocationRequest>, now: number): Wait {
  const kind = request.capability.split('.')[0]!;
  if (request.candidates.length === 0) return { text: `waiting: no ${kind} in the layout may serve this batch's lane for ${request.capability}`, until: Number.POSITIVE_INFINITY };
  const reasons = request.candidates.map((id) => {
    const module = modules.get(id);
    if (!module) return { id, soonest: Number.POSITIVE_INFINITY, text: `${id} is not connected` };
    if (module.unusable) return { id, soonest: Number.POSITIVE_INFINITY, text: `${id} may not be used: ${module.unusable}` };
    if (request.avoid?.includes(id)) return { id, soonest: Number.POSITIVE_INFINITY, text: `${id} failed this step before` };
    const clearance = module.clearanceBefore(request.batchId);
    const then = clearance > 0 ? `, then line clearance (${minutes(clearance)})` : '';
    if (module.occupiedBy) {
      const until = module.busyUntil !== undefined && module.busyUntil > now ? ` until ${timeOfDay(module.busyUntil, now)}` : '';
      return { id, soonest: (module.busyUntil ?? now) + clearance, text: `${id}: busy with ${module.occupiedBy}${until}${then}` };
    }
    const rival = takenThisRound.get(id);
    if (rival) return { id, soonest: now + clearance, text: `${id}: allocated to ${rival.batchId} first (${rival.holdDeadline !== undefined ? 'earlier hold-time deadline' : 'waiting longer'})${then}` };
    if (module.state !== 'idle') return { id, soonest: Number.POSITIVE_INFINITY, text: `${id} is ${module.state}` };
    return { id, soonest: now, text: `${id}: free` };
  });
  reasons.sort((a, b) => a.soonest - b.soonest);
  const [first, ...others] = reasons;
  const also = others.length > 0 ? `; ${others.map((r) => r.text).join('; ')}` : '';
  return { text: `waiting for ${kind} ${first!.text}${also}`, until: first!.soonest };
}

/**
 * Why the request's step should not start at `start`, or undefined when it may. Each later link of the
 * chain may start once its module is expected free; a link that would wait more than half the hold
 * before it pushes the steps before it later, and if that push reaches this step, it waits here
 * instead. Half of each hold is kept in reserve because release times are estimates: a module freed
 * late eats into the reserve, one freed early costs only idle time. Occupants whose release time is
 * unknown are assumed to leave now: the lookahead only refuses waits it can see, so it never makes a
 * batch wait forever.
 */
export function holdChainWait(request: AllocationRequest, start: number, modules: ReadonlyMap<string, ModuleView>, now: number): string | undefined {
  return chainWait(request, start, modules, now)?.text;
}

function chainWait(request: AllocationRequest, start: number, modules: ReadonlyMap<string, ModuleView>, now: number): Wait | undefined {
  const links = request.holdChain ?? [];
  if (links.length === 0) return undefined;
  const starts = [start];
  // starts[i] is when link i's module is entered (its transfer begins); its hold ends once the transfer is done.
  const durations = [request.durationMs ?? 0, ...links.map((l) => l.transferMs + l.durationMs)];
  const available = links.map((link) => earliestFree(link, request.batchId, modules, now));
  links.forEach((_, i) => starts.push(Math.max(available[i]!.at, starts[i]! + durations[i]!)));
  // The link whose module sets the latest start of each step (undefined where nothing pushes it).
  const cause: Array<number | undefined> = links.map(() => undefined);
  for (let i = links.length - 1; i >= 0; i--) {
    const latestAllowed = starts[i + 1]! + links[i]!.transferMs - durations[i]! - links[i]!.afterHoldMs / 2;
    if (latestAllowed > starts[i]!) {
      starts[i] = latestAllowed;
      cause[i] = i + 1 < links.length && cause[i + 1] !== undefined ? cause[i + 1] : i;
    }
  }
  const blame = cause[0];
  if (blame === undefined || starts[0]! <= start + 1000) return undefined;
  const link = links[blame]!;
  const kind = link.capability.split('.')[0]!;
  const holds = [request.stepId, ...links.slice(0, blame).map((l) => l.stepId)].map((id, i) => `${minutes(links[i]!.afterHoldMs)} after ${id}`).join(', ');
  if (!Number.isFinite(starts[0]!)) return { text: `not starting ${request.stepId}: no ${kind} could serve ${link.stepId} within the hold times (${freeText(available[blame]!.id, request.batchId, modules, now)})`, until: Number.POSITIVE_INFINITY };
  return { text: `not starting ${request.stepId} before ${timeOfDay(starts[0]!, now)}: ${link.stepId} needs ${kind} ${freeText(available[blame]!.id, request.batchId, modules, now)}, and the material may spend only half of each hold time waiting on the way (${holds})`, until: starts[0]! };
}

/**
 * When the link's module is expected free at the earliest, and which candidate that is (the first of
 * those equally early); undefined when the layout has none. Its words come from freeText, only for a wait
 * being explained: every scheduling round asks this of every link, and formatting times costs.
 */
function earliestFree(link: ChainLink, batchId: string, modules: ReadonlyMap<string, ModuleView>, now: number): { at: number; id?: string } {
  let earliest: { at: number; id?: string } = { at: Number.POSITIVE_INFINITY };
  for (const id of link.candidates) {
    const at = freeAt(modules.get(id), batchId, now);
    if (earliest.id === undefined || at < earliest.at) earliest = { at, id };
  }
  return earliest;
}

function freeAt(module: ModuleView | undefined, batchId: string, now: number): number {
  if (!module) return now;
  if (module.unusable) return Number.POSITIVE_INFINITY;
  if (module.occupiedBy === batchId) return now;
  const clearance = module.clearanceBefore(batchId);
  return module.occupiedBy && module.busyUntil !== undefined && module.busyUntil > now ? module.busyUntil + clearance : now + clearance;
}

/** The candidate earliestFree chose, in words: "ep-1 (busy with P-001 until 10:42 UTC, then line clearance (15 min))". */
function freeText(id: string | undefined, batchId: string, modules: ReadonlyMap<string, ModuleView>, now: number): string {
  if (id === undefined) return `none in the layout may serve this batch's lane`;
  const module = modules.get(id);
  if (!module) return id;
  if (module.unusable) return `${id} may not be used: ${module.unusable}`;
  if (module.occupiedBy === batchId) return id;
  const clearance = module.clearanceBefore(batchId);
  const then = clearance > 0 ? `, then line clearance (${minutes(clearance)})` : '';
  if (module.occupiedBy && module.busyUntil !== undefined && module.busyUntil > now) return `${id} (busy with ${module.occupiedBy} until ${timeOfDay(module.busyUntil, now)}${then})`;
  return id;
}

function minutes(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m >= 120 ? `${Math.round(m / 60)} h` : `${m} min`;
}
