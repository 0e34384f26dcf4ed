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

  describe('looking ahead along hold times', () => {
    const HOUR = 3_600_000;
    const chainModules = (bioBusyUntil: number | undefined) =>
      new Map([
        ['sep-1', module('sep-1', 'cell-separator')],
        ['ep-1', module('ep-1', 'electroporator')],
        ['bio-1', module('bio-1', 'rocking-bioreactor', { occupiedBy: 'P-001', busyUntil: bioBusyUntil })],
      ]);
    // wash (1 h) -2 h- select (3 h) -72 h- electroporate (10 min) -15 min- seed on bio-1
    const wash = request('P-017', {
      stepId: 'wash',
      capability: 'cell-separator.wash',
      candidates: ['sep-1'],
      durationMs: HOUR,
      holdChain: [
        { stepId: 'select', capability: 'cell-separator.select', candidates: ['sep-1'], durationMs: 3 * HOUR, transferMs: 0, afterHoldMs: 2 * HOUR },
        { stepId: 'electroporate', capability: 'electroporator.electroporate', candidates: ['ep-1'], durationMs: 10 * 60_000, transferMs: 0, afterHoldMs: 72 * HOUR },
        { stepId: 'seed', capability: 'rocking-bioreactor.seed', candidates: ['bio-1'], durationMs: 30 * 60_000, transferMs: 0, afterHoldMs: 15 * 60_000 },
      ],
    });

    it('does not start a chain whose later step would wait past a hold time, and says until when and why', () => {
      const bioFree = NOW + 10 * 24 * HOUR;
      const decision = scheduler.decide([wash], chainModules(bioFree), NOW);
      expect(decision.grants).toEqual([]);
      // Back from bio-1's release through each step and half of each hold (the other half is reserve).
      const earliest = bioFree - 7.5 * 60_000 - 10 * 60_000 - 36 * HOUR - 3 * HOUR - HOUR - HOUR;
      expect(new Date(earliest).toISOString()).toBe('2026-11-30T16:42:30.000Z');
      expect(decision.waits.get('P-017')).toBe(
        'not starting wash before 11-30 16:42 UTC: seed needs rocking-bioreactor bio-1 (busy with P-001 until 12-02 10:00 UTC), and the material may spend only half of each hold time waiting on the way (2 h after wash, 72 h after select, 15 min after electroporate)',
      );
      expect(scheduler.decide([wash], chainModules(bioFree), earliest).grants.map((g) => g.module)).toEqual(['sep-1']);
    });

    it('counts moving the material in against the hold before a step', () => {
      const bioFree = NOW + 10 * 24 * HOUR;
      const links = wash.holdChain!.map((l) => (l.stepId === 'seed' ? { ...l, transferMs: 5 * 60_000 } : l));
      const wait = scheduler.decide([{ ...wash, holdChain: links }], chainModules(bioFree), NOW).waits.get('P-017');
      // The hold after electroporate lasts until the bag is in bio-1, five minutes after bio-1 frees:
      // the chain may start five minutes later than without the transfer (16:42:30).
      expect(wait).toMatch(/^not starting wash before 11-30 16:47 UTC:/);
    });

    it('starts the chain when half the holds can bridge the wait, or when the release time is not known', () => {
      expect(scheduler.decide([wash], chainModules(NOW + 41 * HOUR), NOW).grants).toHaveLength(1);
      expect(scheduler.decide([wash], chainModules(NOW + 42 * HOUR), NOW).grants).toHaveLength(0);
      expect(scheduler.decide([wash], chainModules(undefined), NOW).grants).toHaveLength(1);
    });

    it('waits for the chain inside a running hold only while that hold allows it', () => {
      const bioFree = NOW + 40 * HOUR;
      const electroporate = request('P-017', { durationMs: 10 * 60_000, holdDeadline: NOW + 72 * HOUR, holdChain: wash.holdChain!.slice(2) });
      expect(scheduler.decide([electroporate], chainModules(bioFree), NOW).waits.get('P-017')).toMatch(/^not starting electroporate before 11-24 01:42 UTC: seed needs rocking-bioreactor bio-1/);
      // Ten minutes before its own hold runs out, the step starts whatever comes after it.
      const closeToDeadline = request('P-017', { ...electroporate, holdDeadline: NOW + 9 * 60_000 });
      expect(scheduler.decide([closeToDeadline], chainModules(bioFree), NOW).grants.map((g) => g.module)).toEqual(['ep-1']);
    });

    it('never starts a chain whose later step has no usable module', () => {
      const modules = chainModules(undefined);
      modules.set('ep-1', module('ep-1', 'electroporator', { unusable: 'calibration expired on 2026-11-01' }));
      const decision = scheduler.decide([wash], modules, NOW);
      expect(decision.grants).toEqual([]);
      expect(decision.waits.get('P-017')).toBe('not starting wash: no electroporator could serve electroporate within the hold times (ep-1 may not be used: calibration expired on 2026-11-01)');
    });
  });
});
