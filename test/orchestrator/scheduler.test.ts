import { describe, expect, it } from 'vitest';
import { DeadlineFirstScheduler, type AllocationRequest, type ModuleView } from '../../orchestrator/scheduler.ts';

const at = (hhmm: string) => Date.parse(`2026-11-22T${hhmm}:00Z`);
const NOW = at('10:00');

function module(id: string, kind: string, extra: Partial<ModuleView> & { clearanceMs?: number } = {}): ModuleView {
  return { id, kind, state: 'idle', clearanceBefore: () => extra.clearanceMs ?? 0, ...extra };
}

function request(batchId: string, extra: Partial<AllocationRequest> = {}): AllocationRequest {
  return { batchId, stepId: 'electroporate', capability: 'electroporator.electroporate', candidates: ['ep-1'], waitingSince: NOW, ...extra };
}

const scheduler = new DeadlineFirstScheduler();

describe('the deadline-first scheduler', () => {
  it('explains a wait with the holder, its expected release and the line clearance that follows', () => {
    const modules = new Map([['ep-1', module('ep-1', 'electroporator', { occupiedBy: 'P-001', busyUntil: at('10:42'), clearanceMs: 15 * 60_000 })]]);
    const decision = scheduler.decide([request('P-003')], modules, NOW);
    expect(decision.grants).toEqual([]);
    expect(decision.waits.get('P-003')).toBe('waiting for electroporator ep-1: busy with P-001 until 10:42 UTC, then line clearance (15 min)');
  });

  it('serves the earliest hold-time deadline first, then the longest waiting', () => {
    const modules = new Map([['ep-1', module('ep-1', 'electroporator')]]);
    const requests = [request('P-001', { waitingSince: at('09:00') }), request('P-002', { holdDeadline: at('10:20'), waitingSince: at('09:50') }), request('P-003', { holdDeadline: at('10:10'), waitingSince: at('09:55') })];
    const first = scheduler.decide(requests, modules, NOW);
    expect(first.grants.map((g) => g.request.batchId)).toEqual(['P-003']);
    expect(first.waits.get('P-002')).toBe('waiting for electroporator ep-1: allocated to P-003 first (earlier hold-time deadline)');
    const withoutDeadlines = scheduler.decide([request('P-002', { waitingSince: at('09:50') }), request('P-001', { waitingSince: at('09:00') })], modules, NOW);
    expect(withoutDeadlines.grants.map((g) => g.request.batchId)).toEqual(['P-001']);
    expect(withoutDeadlines.waits.get('P-002')).toContain('allocated to P-001 first (waiting longer)');
  });

  it('never allocates a module whose qualification or calibration has expired, and says so', () => {
    const modules = new Map([['ep-1', module('ep-1', 'electroporator', { unusable: 'qualification expired on 2026-10-31' })]]);
    const decision = scheduler.decide([request('P-001')], modules, NOW);
    expect(decision.grants).toEqual([]);
    expect(decision.waits.get('P-001')).toBe('waiting for electroporator ep-1 may not be used: qualification expired on 2026-10-31');
  });

  it('prefers a free module that owes no line clearance, and leaves out the one a step failed on', () => {
    const modules = new Map([
      ['sep-1', module('sep-1', 'cell-separator', { clearanceMs: 30 * 60_000 })],
      ['sep-2', module('sep-2', 'cell-separator')],
      ['sep-3', module('sep-3', 'cell-separator')],
    ]);
    const wash = (batchId: string, avoid?: string[]) => request(batchId, { stepId: 'wash', capability: 'cell-separator.wash', candidates: ['sep-1', 'sep-2', 'sep-3'], avoid });
    expect(scheduler.decide([wash('P-001')], modules, NOW).grants).toEqual([{ request: wash('P-001'), module: 'sep-2', clearanceMs: 0 }]);
    expect(scheduler.decide([wash('P-001', ['sep-2'])], modules, NOW).grants[0]!.module).toBe('sep-3');
  });

  it('does not allocate a faulted module and explains every candidate', () => {
    const modules = new Map([
      ['sep-1', module('sep-1', 'cell-separator', { state: 'faulted' })],
      ['sep-2', module('sep-2', 'cell-separator', { occupiedBy: 'P-009' })],
    ]);
    const decision = scheduler.decide([request('P-001', { capability: 'cell-separator.wash', candidates: ['sep-1', 'sep-2'] })], modules, NOW);
    expect(decision.waits.get('P-001')).toBe('waiting for cell-separator sep-2: busy with P-009; sep-1 is faulted');
  });
});
