/**
 * What happened when, read back from a run's entries: who occupied which module, line clearances,
 * device commands and transfers, each batch's steps, its waits for a module, its hold times, holds and
 * deviations. The capacity figures (metrics.ts), the Gantt chart and the wait causes are read off this.
 */
import { WORKCELL_STREAM, type EventLog } from '../event-log.ts';
import type { LogEntry } from '../entries/index.ts';

export interface Interval {
  from: number;
  until: number;
}

export interface BatchTimeline {
  batchId: string;
  lane: string;
  startedAt: number;
  /** When its material first entered device work of the first step (ms). */
  firstWorkAt?: number;
  completedAt?: number;
  quarantinedAt?: number;
}

export interface WaitForModule extends Interval {
  batchId: string;
  step: string;
  capability: string;
  lane: string;
}

export interface HoldOpened {
  batchId: string;
  step: string;
  kind: string;
  message: string;
  openedAt: number;
  resolvedAt?: number;
  action?: string;
}

export interface HoldWindow extends Interval {
  batchId: string;
  step: string;
  /** The module the material waited at (where the step before the hold ran). */
  module?: string;
  deadline: number;
  /** False when the material entered the next module after the deadline; undefined while it ran on. */
  within?: boolean;
}

export interface DeviationAt {
  batchId: string;
  at: number;
  kind: string;
  holdOf?: string;
  deadline?: number;
  message: string;
}

export interface Timeline {
  batches: Map<string, BatchTimeline>;
  occupancy: Map<string, Array<Interval & { batchId: string }>>;
  clearances: Map<string, Array<Interval & { after: string }>>;
  /** Device commands by module (transfers and scans on robot arms included). */
  commands: Map<string, Array<Interval & { batchId: string; step: string; capability: string }>>;
  transfers: Array<Interval & { arm: string; batchId: string; to: string }>;
  /** A bar per step attempt on the module it ran on: its first device command to its end. */
  stepBars: Array<Interval & { module: string; batchId: string; step: string }>;
  waits: WaitForModule[];
  holdWindows: HoldWindow[];
  holds: HoldOpened[];
  deviations: DeviationAt[];
  /** The latest time an entry of a batch carries (settle plates incubating after the batches do not count). */
  end: number;
}

/** The entry types a timeline reads (telemetry, the bulk of a log, is not among them). */
export const TIMELINE_TYPES = [
  'batch.started', 'step.started', 'step.completed', 'step.failed', 'step.skipped', 'module.reserved', 'module.released',
  'command.issued', 'command.completed', 'command.failed', 'command.cancelled', 'line-clearance.started', 'line-clearance.completed',
  'transfer.completed', 'hold-time.started', 'hold-time.ended', 'hold.opened', 'hold.resolved', 'deviation', 'batch.completed', 'batch.quarantined', 'batch.interrupted',
] as const;

export function timelineEntries(log: EventLog): LogEntry[] {
  return log.since(0, TIMELINE_TYPES);
}

/** Per batch: the step it is at, its open wait and step bar, where its material is, its open hold time. */
interface BatchCursor {
  step?: string;
  capability?: string;
  wait?: { from: number; step: string; capability: string };
  bar?: { from: number; module: string; step: string };
  module?: string;
  holdWindow?: HoldWindow;
}

/** Reads entries (in log order) into a timeline; `capabilityOf` gives a step's capability (from the schedule). */
export function readTimeline(entries: readonly LogEntry[], capabilityOf: (step: string) => string | undefined): Timeline {
  const timeline: Timeline = { batches: new Map(), occupancy: new Map(), clearances: new Map(), commands: new Map(), transfers: [], stepBars: [], waits: [], holdWindows: [], holds: [], deviations: [], end: 0 };
  const cursors = new Map<string, BatchCursor>();
  const openOccupancy = new Opening<{ batchId: string }>();
  const openClearance = new Opening<{ after: string }>();
  const openCommands = new Opening<{ module: string; batchId: string; step: string; capability: string }>();
  const openHolds = new Map<string, HoldOpened>();
  const push = <T>(map: Map<string, T[]>, key: string, value: T) => (map.get(key) ?? map.set(key, []).get(key)!).push(value);
  const cursor = (batchId: string) => cursors.get(batchId) ?? cursors.set(batchId, {}).get(batchId)!;
  const endWait = (batchId: string, at: number) => {
    const c = cursor(batchId);
    if (!c.wait) return;
    const lane = timeline.batches.get(batchId)?.lane ?? '';
    if (at > c.wait.from) timeline.waits.push({ batchId, step: c.wait.step, capability: c.wait.capability, lane, from: c.wait.from, until: at });
    c.wait = undefined;
  };
  const endBar = (batchId: string, at: number) => {
    const c = cursor(batchId);
    if (c.bar) timeline.stepBars.push({ ...c.bar, batchId, until: at });
    c.bar = undefined;
  };

  for (const entry of entries) {
    const batchId = entry.stream;
    if (batchId !== WORKCELL_STREAM) timeline.end = Math.max(timeline.end, entry.at);
    switch (entry.type) {
      case 'batch.started':
        timeline.batches.set(batchId, { batchId, lane: entry.data.lane, startedAt: entry.at });
        break;
      case 'step.started': {
        const c = cursor(batchId);
        c.step = entry.data.step;
        c.capability = capabilityOf(entry.data.step);
        c.wait = { from: entry.at, step: entry.data.step, capability: c.capability ?? '' };
        break;
      }
      case 'module.reserved':
        endWait(batchId, entry.at);
        openOccupancy.start(entry.data.module, { batchId }, entry.at);
        break;
      case 'module.released': {
        const closed = openOccupancy.end(entry.data.module, entry.at);
        if (closed) push(timeline.occupancy, entry.data.module, closed);
        break;
      }
      case 'command.issued': {
        const { module, step, capability, key } = entry.data;
        openCommands.start(key, { module, batchId, step, capability }, entry.at);
        const c = cursor(batchId);
        const ofStep = c.step !== undefined && (step === c.step || entry.data.parentStep === c.step);
        if (!ofStep) break;
        endWait(batchId, entry.at);
        if (!c.bar) c.bar = { from: entry.at, module, step: c.step! };
        const batch = timeline.batches.get(batchId);
        if (batch && batch.firstWorkAt === undefined) batch.firstWorkAt = entry.at;
        break;
      }
      case 'command.completed':
      case 'command.failed':
      case 'command.cancelled': {
        const closed = openCommands.end(entry.data.key, entry.at);
        if (closed) push(timeline.commands, closed.module, closed);
        break;
      }
      case 'transfer.completed': {
        const command = [...(timeline.commands.get(entry.data.arm) ?? [])].reverse().find((c) => c.batchId === batchId && c.capability === 'transfer');
        timeline.transfers.push({ arm: entry.data.arm, batchId, to: entry.data.to, from: command?.from ?? entry.at, until: entry.at });
        break;
      }
      case 'line-clearance.started':
        openClearance.start(entry.data.module, { after: entry.data.after }, entry.at);
        break;
      case 'line-clearance.completed': {
        const closed = openClearance.end(entry.data.module, entry.at);
        if (closed) push(timeline.clearances, entry.data.module, closed);
        break;
      }
      case 'step.completed': {
        endWait(batchId, entry.at);
        const c = cursor(batchId);
        if (!c.bar) c.bar = { from: entry.at, module: entry.data.module, step: entry.data.step };
        endBar(batchId, entry.at);
        c.module = entry.data.module;
        break;
      }
      case 'step.failed':
      case 'step.skipped':
        endWait(batchId, entry.at);
        endBar(batchId, entry.at);
        break;
      case 'hold-time.started': {
        const c = cursor(batchId);
        c.holdWindow = { batchId, step: entry.data.step, module: c.module, from: entry.at, until: entry.at, deadline: entry.data.deadlineMs };
        break;
      }
      case 'hold-time.ended': {
        const c = cursor(batchId);
        if (c.holdWindow && entry.data.step !== undefined) timeline.holdWindows.push({ ...c.holdWindow, until: entry.at, within: entry.data.withinHoldTime });
        c.holdWindow = undefined;
        break;
      }
      case 'hold.opened': {
        endWait(batchId, entry.at);
        const hold: HoldOpened = { batchId, step: entry.data.step, kind: entry.data.kind, message: entry.data.message, openedAt: entry.at };
        timeline.holds.push(hold);
        openHolds.set(`${batchId}#${entry.streamSeq}`, hold);
        break;
      }
      case 'hold.resolved': {
        const hold = openHolds.get(`${batchId}#${entry.data.hold}`);
        if (hold) Object.assign(hold, { resolvedAt: entry.at, action: entry.data.action });
        break;
      }
      case 'deviation':
        timeline.deviations.push({ batchId, at: entry.at, kind: entry.data.kind, holdOf: entry.data.holdOf, deadline: entry.data.deadlineMs, message: entry.data.message });
        break;
      case 'batch.completed':
      case 'batch.quarantined':
      case 'batch.interrupted': {
        endWait(batchId, entry.at);
        endBar(batchId, entry.at);
        const batch = timeline.batches.get(batchId);
        if (batch && entry.type === 'batch.completed') batch.completedAt = entry.at;
        if (batch && entry.type === 'batch.quarantined') batch.quarantinedAt = entry.at;
        break;
      }
      default:
        break;
    }
  }
  // What is still open when the log ends runs until then.
  const end = timeline.end;
  for (const [module, open] of openOccupancy.endAll(end)) push(timeline.occupancy, module, open);
  for (const [module, open] of openClearance.endAll(end)) push(timeline.clearances, module, open);
  for (const [, open] of openCommands.endAll(end)) push(timeline.commands, open.module, open);
  for (const [batchId, c] of cursors) {
    endWait(batchId, end);
    endBar(batchId, end);
    if (c.holdWindow) timeline.holdWindows.push({ ...c.holdWindow, until: end });
  }
  return timeline;
}

/** Intervals an entry opens and a later one with the same key (a module, a command's key) closes. */
class Opening<T extends object> {
  private readonly open = new Map<string, T & { from: number }>();

  start(key: string, value: T, at: number): void {
    this.open.set(key, { ...value, from: at });
  }

  end(key: string, at: number): (T & Interval) | undefined {
    const open = this.open.get(key);
    this.open.delete(key);
    return open && { ...open, until: at };
  }

  /** Every interval still open, closed at `at`. */
  endAll(at: number): Array<[string, T & Interval]> {
    return [...this.open.keys()].map((key) => [key, this.end(key, at)!]);
  }
}

/** The length of an interval inside [from, until). */
export function clippedLength(interval: Interval, from: number, until: number): number {
  return Math.max(0, Math.min(interval.until, until) - Math.max(interval.from, from));
}
