/**
 * Which waiting step gets which module. One narrow interface (`Scheduler.decide`) so that a better
 * optimiser can replace the default without touching the rest of the orchestrator. Every request that
 * is not granted comes back with the reason in words an operator understands.
 */
import type { ModuleState } from '../modules/state-model.ts';

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
}

export interface Scheduler {
  decide(requests: readonly AllocationRequest[], modules: ReadonlyMap<string, ModuleView>, now: number): Decision;
}

/** Earliest hold-time deadline first, then the longest waiting; each takes the best free module. */
export class DeadlineFirstScheduler implements Scheduler {
  decide(requests: readonly AllocationRequest[], modules: ReadonlyMap<string, ModuleView>, now: number): Decision {
    const ordered = [...requests].sort(byUrgency);
    const taken = new Map<string, AllocationRequest>();
    const grants: Grant[] = [];
    const waits = new Map<string, string>();
    for (const request of ordered) {
      const free = request.candidates
        .map((id) => modules.get(id))
        .filter((m): m is ModuleView => !!m && !m.unusable && m.state === 'idle' && !m.occupiedBy && !taken.has(m.id) && !request.avoid?.includes(m.id))
        // A module that needs no line clearance first: it starts the step sooner.
        .sort((a, b) => a.clearanceBefore(request.batchId) - b.clearanceBefore(request.batchId));
      const chosen = free[0];
      if (chosen) {
        taken.set(chosen.id, request);
        grants.push({ request, module: chosen.id, clearanceMs: chosen.clearanceBefore(request.batchId) });
      } else {
        waits.set(request.batchId, explainWait(request, modules, taken, now));
      }
    }
    return { grants, waits };
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
  const kind = request.capability.split('.')[0]!;
  if (request.candidates.length === 0) return `waiting: no ${kind} in the layout may serve this batch's lane for ${request.capability}`;
  const reasons = request.candidates.map((id) => {
    const module = modules.get(id);
    if (!module) return { id, soonest: Number.POSITIVE_INFINITY, text: `${id} is not connected` };
    if (module.unusable) return { id, soonest: Number.POSITIVE_INFINITY, text: `${id} may not be used: ${module.unusable}` };
    if (request.avoid?.includes(id)) return { id, soonest: Number.POSITIVE_INFINITY, text: `${id} failed this step before` };
    const clearance = module.clearanceBefore(request.batchId);
    const then = clearance > 0 ? `, then line clearance (${minutes(clearance)})` : '';
    if (module.occupiedBy) {
      const until = module.busyUntil !== undefined && module.busyUntil > now ? ` until ${clock(module.busyUntil)}` : '';
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
  return `waiting for ${kind} ${first!.text}${also}`;
}

function clock(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 16)} UTC`;
}

function minutes(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m >= 120 ? `${Math.round(m / 60)} h` : `${m} min`;
}
