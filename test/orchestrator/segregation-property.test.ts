/**
 * Lane segregation as a property: random batch counts, lanes, arrival orders, seeds (durations and
 * results) and faults, run through the real orchestrator over in-process simulated devices in virtual
 * time (test/support/virtual-run.ts); whatever
 * happens, no rule may be broken, and every batch ends completed or quarantined with an intact record.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadWorkcell } from '../../config/validate.ts';
import type { EventLog, LogEntry } from '../../orchestrator/event-log.ts';
import { resolveHold } from '../../orchestrator/orchestrator.ts';
import { QA } from '../support/operators.ts';
import { startVirtualRun } from '../support/virtual-run.ts';
import type { FaultSpec } from '../../modules/simulators/faults.ts';
import { propertyParameters } from '../support/property-runs.ts';

const LAYOUT = resolve('layouts/two-lane.yaml');
const SCHEDULE = resolve('test/fixtures/schedules/short.yaml');
const { layout } = loadWorkcell(LAYOUT);
const model = layout.model;
const scheduleText = readFileSync(SCHEDULE, 'utf8');

const faultArbitrary: fc.Arbitrary<[string, FaultSpec]> = fc.oneof(
  fc.record({ module: fc.constantFrom('sep-1', 'sep-2', 'ep-1'), on: fc.integer({ min: 1, max: 4 }) }).map(({ module, on }) => [module, { kind: 'error', error: 'HardwareFault', on }] as [string, FaultSpec]),
  fc.integer({ min: 1, max: 12 }).map((on) => ['arm-1', { kind: 'wrong-scan', capability: 'transfer', on }] as [string, FaultSpec]),
  fc.record({ module: fc.constantFrom('sep-1', 'ep-1'), on: fc.integer({ min: 1, max: 3 }) }).map(({ module, on }) => [module, { kind: 'hang', on }] as [string, FaultSpec]),
);

const scenario = fc.record({
  lanes: fc.array(fc.constantFrom('lane-1', 'lane-2'), { minLength: 2, maxLength: 6 }),
  arrivalsMs: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 6, maxLength: 6 }),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  faults: fc.array(faultArbitrary, { maxLength: 3 }),
  answers: fc.array(fc.constantFrom('retry', 'skip', 'abort' as const), { minLength: 8, maxLength: 8 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

async function runScenario(s: Scenario): Promise<EventLog> {
  const faults: Record<string, FaultSpec[]> = {};
  for (const [module, fault] of s.faults) (faults[module] ??= []).push(fault);
  const run = await startVirtualRun({ batches: [], layout: LAYOUT, schedule: SCHEDULE, seed: s.seed, faults });
  const { log, orchestrator, clock } = run;
  // An operator answers every hold with the next scripted answer, at the instant it opens.
  let answered = 0;
  let holdOpened = false;
  log.subscribe((entry) => (holdOpened ||= entry.type === 'hold.opened'));
  const stopOperator = run.everyMoment(() => {
    if (!holdOpened) return;
    holdOpened = false;
    for (const entry of log.ofType('hold.opened')) {
      if (log.stream(entry.stream).some((e) => e.seq > entry.seq && e.type === 'hold.resolved')) continue;
      const wanted = s.answers[answered++ % s.answers.length]!;
      const offered = entry.data.actions as Array<typeof wanted>;
      const action = offered.includes(wanted) ? wanted : offered[0]!;
      resolveHold(log, entry.stream, { action, reason: `property test answer ${answered}` }, QA, clock.now());
    }
  });
  try {
    // Arrivals as far apart in workcell time as the scenario's milliseconds were at a 200,000x clock.
    await Promise.all(
      s.lanes.map(
        (lane, i) =>
          new Promise<void>((arrived) =>
            clock.setTimeout(() => {
              const id = `P-${String(i + 1).padStart(3, '0')}`;
              orchestrator.startBatch({ batchId: id, patient: id, chainOfIdentity: `COI-${id}`, bagId: `BAG-${id}`, lane }, { file: SCHEDULE, text: scheduleText });
              arrived();
            }, s.arrivalsMs[i]! * 200_000),
          ),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not finished after 30 s: ${JSON.stringify(orchestrator.status(), null, 1)}`)), 30_000);
    });
    await Promise.race([run.finished(), stuck]).finally(() => clearTimeout(timer));
  } finally {
    stopOperator();
    await run.stop({ closeLog: false });
  }
  return log;
}

function checkRules(log: EventLog, batches: number): void {
  const entries = log.since(0);
  const started = new Map(log.ofType('batch.started').map((e) => [e.stream, e.data as { lane: string; bagId: string }]));
  expect(started.size).toBe(batches);
  expect(log.verify().breaks).toEqual([]);
  const holder = new Map<string, string>();
  const lastServed = new Map<string, string>();
  const clearedAfter = new Map<string, string>();
  const armBusy = new Map<string, string>();
  const moduleOf = (position: string) => model.modules.get(position.split('.')[0]!);
  const keys = new Set<string>();
  for (const e of entries) {
    const d = e.data as Record<string, string>;
    const batch = started.get(e.stream);
    switch (e.type) {
      case 'module.reserved':
        // One batch per module at a time, and only modules of the batch's lane.
        expect(holder.get(d.module!), `${d.module} reserved by ${e.stream} while ${holder.get(d.module!)} holds it`).toBeUndefined();
        expect(model.lanesOf(model.modules.get(d.module!)!)).toContain(batch!.lane);
        holder.set(d.module!, e.stream);
        break;
      case 'module.released':
        expect(holder.get(d.module!)).toBe(e.stream);
        holder.delete(d.module!);
        break;
      case 'line-clearance.completed':
        clearedAfter.set(d.module!, d.after!);
        break;
      case 'command.issued':
        expect(keys.has(d.key!), `command ${d.key} issued twice`).toBe(false);
        keys.add(d.key!);
        if (d.capability === 'transfer') {
          // The robot carries one item at a time.
          expect(armBusy.get(d.module!), `${d.module} picked for ${e.stream} while carrying for ${armBusy.get(d.module!)}`).toBeUndefined();
          armBusy.set(d.module!, d.key!);
        }
        break;
      case 'command.completed':
      case 'command.failed':
        for (const [arm, key] of armBusy) if (key === d.key) armBusy.delete(arm);
        break;
      case 'transfer.completed': {
        // Every hand-off scanned this batch's own bag.
        expect([d.scannedAtPick, d.scannedAtPlace]).toEqual([batch!.bagId, batch!.bagId]);
        const target = moduleOf(d.to!);
        if (target) {
          expect(holder.get(target.id), `${e.stream} entered ${target.id} without holding it`).toBe(e.stream);
          const previous = lastServed.get(target.id);
          const shared = model.isShared(target) && model.catalogue.kind(target.kind)!.lineClearanceWhenShared;
          if (shared && previous && previous !== e.stream) expect(clearedAfter.get(target.id), `${target.id} not cleared after ${previous} before ${e.stream}`).toBe(previous);
          lastServed.set(target.id, e.stream);
        }
        break;
      }
      case 'telemetry':
        // Telemetry belongs to the batch inside the module at that moment.
        expect(holder.get(d.module!)).toBe(e.stream);
        break;
      default:
        break;
    }
  }
  for (const id of started.keys()) {
    const last = log.stream(id).filter((e: LogEntry) => e.type === 'batch.completed' || e.type === 'batch.quarantined');
    expect(last.length, `${id} ended ${last.length} times`).toBe(1);
  }
}

/**
 * Found by CI: storage filled with batches making way, then two lane-2 batches each held the module the
 * other needed (sep-2 and ep-1). It stays as an example that runs every time.
 */
const CIRCULAR_WAIT: Scenario = {
  lanes: ['lane-2', 'lane-2', 'lane-1', 'lane-1', 'lane-1', 'lane-2'],
  arrivalsMs: [40, 11, 11, 17, 34, 3],
  seed: 875427,
  faults: [
    ['sep-1', { kind: 'error', error: 'HardwareFault', on: 4 }],
    ['ep-1', { kind: 'hang', on: 3 }],
    ['ep-1', { kind: 'hang', on: 1 }],
  ],
  answers: ['skip', 'abort', 'abort', 'retry', 'skip', 'retry', 'abort', 'abort'],
};

describe('lane segregation', () => {
  it('holds for random batches, lanes, arrival orders, durations and faults', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const log = await runScenario(s);
        try {
          checkRules(log, s.lanes.length);
        } finally {
          log.close();
        }
      }),
      { ...propertyParameters(20), endOnFailure: true, examples: [[CIRCULAR_WAIT]] },
    );
  }, 600_000);
});
