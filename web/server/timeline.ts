/**
 * The Gantt of a workcell: for each module, a bar per step a batch ran on it (from the step's start to
 * its end: completed, failed or skipped) and a bar per line clearance. A step's module is the one its
 * first command went to, or the one its completion names.
 */
import type { EventLog } from '../../orchestrator/event-log.ts';

export interface TimelineBar {
  module: string;
  batch: string;
  step: string;
  start: number;
  end: number | null;
  kind: 'step' | 'clearance';
}

const TYPES = ['step.started', 'command.issued', 'step.completed', 'step.failed', 'step.skipped', 'line-clearance.started', 'line-clearance.completed'] as const;

export function timeline(log: EventLog, window: { from?: number; to?: number }): { from: number; to: number; modules: string[]; bars: TimelineBar[] } {
  const bars: TimelineBar[] = [];
  const running = new Map<string, { step: string; start: number; module?: string }>();
  const clearing = new Map<string, TimelineBar>();
  for (const entry of log.since(0, [...TYPES])) {
    if (entry.type === 'step.started') running.set(entry.stream, { step: entry.data.step, start: entry.at });
    else if (entry.type === 'command.issued') {
      const open = running.get(entry.stream);
      if (open && open.module === undefined && entry.data.step === open.step && entry.data.parentStep === undefined) open.module = entry.data.module;
    } else if (entry.type === 'step.completed' || entry.type === 'step.failed' || entry.type === 'step.skipped') {
      const open = running.get(entry.stream);
      if (!open || open.step !== entry.data.step) continue;
      running.delete(entry.stream);
      const module = entry.type === 'step.completed' ? entry.data.module : open.module;
      if (module) bars.push({ module, batch: entry.stream, step: open.step, start: open.start, end: entry.at, kind: 'step' });
    } else if (entry.type === 'line-clearance.started') {
      const bar: TimelineBar = { module: entry.data.module, batch: entry.data.after, step: entry.data.procedure ?? 'line clearance', start: entry.at, end: null, kind: 'clearance' };
      clearing.set(entry.data.module, bar);
      bars.push(bar);
    } else if (entry.type === 'line-clearance.completed') {
      const bar = clearing.get(entry.data.module);
      if (bar) bar.end = entry.at;
      clearing.delete(entry.data.module);
    }
  }
  for (const [batch, open] of running) if (open.module) bars.push({ module: open.module, batch, step: open.step, start: open.start, end: null, kind: 'step' });
  const from = window.from ?? Math.min(...bars.map((b) => b.start), Number.POSITIVE_INFINITY);
  const to = window.to ?? Math.max(...bars.map((b) => b.end ?? log.lastAt()), Number.NEGATIVE_INFINITY);
  const shown = bars.filter((b) => b.start <= to && (b.end ?? Number.POSITIVE_INFINITY) >= from).sort((a, b) => a.start - b.start);
  const empty = !Number.isFinite(from) || !Number.isFinite(to);
  return { from: empty ? 0 : from, to: empty ? 0 : to, modules: [...new Set(shown.map((b) => b.module))].sort(), bars: shown };
}
