/**
 * The digital twin: the real orchestrator and in-process simulators in virtual time. The same inputs
 * and seed give the same entries in the same order (one digest); another seed another; and nothing the
 * host does (its latency, its load) can make a deviation or an alarm.
 */
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkcell } from '../../config/validate.ts';
import { runTwin, type TwinArrival, type TwinOptions } from '../../cli/twin.ts';
import { logDigest } from '../../orchestrator/log-digest.ts';
import type { LogEntry } from '../../orchestrator/event-log.ts';

const TWO_LANE = resolve('layouts/two-lane.yaml');
const FOUR_LANE = resolve('layouts/four-lane.yaml');
const SHORT = resolve('test/fixtures/schedules/short.yaml');
const START = Date.UTC(2027, 0, 4, 8);
const HOUR = 3_600_000;

function arrivals(count: number, everyMs: number, schedule = SHORT): TwinArrival[] {
  const text = readFileSync(schedule, 'utf8');
  return Array.from({ length: count }, (_, i) => {
    const id = `P-${String(i + 1).padStart(3, '0')}`;
    return { batchId: id, patient: id, at: START + i * everyMs, schedule: { file: schedule, text } };
  });
}

async function twin(layoutFile: string, options: Partial<TwinOptions> & Pick<TwinOptions, 'arrivals'>) {
  const { layout } = loadWorkcell(layoutFile);
  const result = await runTwin({ layout: layout.model, layoutFile, seed: 3, startAt: START, logFile: join(mkdtempSync(join(tmpdir(), 'workcell-twin-')), 'records.db'), ...options });
  const entries = result.log.since(0).map((e) => [e.stream, e.type, e.at, e.data] as const);
  const verification = result.log.verify();
  const read = { deviations: result.log.ofType('deviation'), alarms: result.log.ofType('alarm'), digestOfFile: logDigest(result.log), all: result.log.since(0) };
  result.log.close();
  return { result, entries, verification, ...read };
}

describe('the digital twin', () => {
  it('gives the same entries in the same order, and the same digest, for the same inputs and seed; another seed another digest', async () => {
    const campaign = arrivals(3, 5 * HOUR);
    const first = await twin(TWO_LANE, { arrivals: campaign });
    const again = await twin(TWO_LANE, { arrivals: campaign });
    const otherSeed = await twin(TWO_LANE, { arrivals: campaign, seed: 4 });
    expect(first.result.outcome).toBe('finished');
    expect(first.result.batches.map((b) => b.phase)).toEqual(['completed', 'completed', 'completed']);
    expect(first.entries.length).toBeGreaterThan(200);
    expect(again.entries).toEqual(first.entries);
    expect(again.result.digest).toBe(first.result.digest);
    expect(first.result.digest).toMatch(/^[0-9a-f]{64}$/);
    // The digest the run followed is the digest of the database it wrote.
    expect(first.digestOfFile).toBe(first.result.digest);
    expect(otherSeed.result.digest).not.toBe(first.result.digest);
    // Where the inputs sit is no part of the run: the same files in another directory, the same digest.
    const elsewhere = mkdtempSync(join(tmpdir(), 'workcell-twin-inputs-'));
    const [layoutCopy, scheduleCopy] = [join(elsewhere, 'two-lane.yaml'), join(elsewhere, 'short.yaml')];
    copyFileSync(TWO_LANE, layoutCopy);
    copyFileSync(SHORT, scheduleCopy);
    const moved = await twin(layoutCopy, { arrivals: campaign.map((a) => ({ ...a, schedule: { ...a.schedule, file: scheduleCopy } })) });
    expect(moved.all.find((e) => e.type === 'batch.started')?.data).toMatchObject({ layout: { file: layoutCopy }, schedule: { file: scheduleCopy } });
    expect(moved.result.digest).toBe(first.result.digest);
    expect(first.verification.breaks).toEqual([]);
    // Batches arrive at their times, on the lanes in turn; lock ids and execution tokens come from the seed.
    const started = first.all.filter((e): e is LogEntry<'batch.started'> => e.type === 'batch.started');
    expect(started.map((e) => [e.data.batchId, e.at - START, e.data.lane])).toEqual([
      ['P-001', 0, 'lane-1'],
      ['P-002', 5 * HOUR, 'lane-2'],
      ['P-003', 10 * HOUR, 'lane-1'],
    ]);
    const locks = first.all.flatMap((e) => (e.type === 'module.locked' ? [e.data.lockId] : []));
    expect(locks.length).toBeGreaterThan(0);
    expect(locks).toEqual(again.all.flatMap((e) => (e.type === 'module.locked' ? [e.data.lockId] : [])));
  });

  it('raises no deviation and no alarm of the host: a multi-patient campaign without faults has no hold-time deviation', async () => {
    // Eight patients on four lanes, one every 3 hours: they queue for the shared electroporator and arms,
    // as a real campaign does; at a scaled wall clock the host's latency made hold times run over.
    const { result, deviations, alarms } = await twin(FOUR_LANE, { arrivals: arrivals(8, 3 * HOUR), seed: 5 });
    expect(result.outcome).toBe('finished');
    expect(result.batches.every((b) => b.phase === 'completed')).toBe(true);
    expect(deviations.filter((d) => d.data.kind === 'hold-time-exceeded')).toEqual([]);
    expect(alarms).toEqual([]);
    // What deviations there are come from the process: results outside the schedule's limits.
    expect(deviations.every((d) => d.data.kind === 'out-of-limit')).toBe(true);
  });

  it('stops at the horizon, recording each unfinished batch as interrupted', async () => {
    const { result, all } = await twin(TWO_LANE, { arrivals: arrivals(2, 10 * 60_000), horizonMs: 15 * 60_000 });
    expect(result.outcome).toBe('horizon');
    expect(result.endedAt).toBe(START + 15 * 60_000);
    expect(result.batches.map((b) => b.phase)).not.toContain('completed');
    expect(all.filter((e) => e.type === 'batch.interrupted').map((e) => e.stream)).toEqual(['P-001', 'P-002']);
  });

  it('says it stalled, rather than hang, when a batch waits for what virtual time cannot bring (an operator)', async () => {
    const { result, all } = await twin(TWO_LANE, { arrivals: arrivals(1, HOUR), faults: { 'ep-1': [{ kind: 'error', error: 'HardwareFault', on: 1 }, { kind: 'error', error: 'HardwareFault', on: 2 }] } });
    expect(result.outcome).toBe('stalled');
    expect(result.batches[0]!.phase).toBe('held');
    expect(all.some((e) => e.type === 'hold.opened')).toBe(true);
  });

  it('refuses arrivals it cannot run: before the start, twice the same batch, an unknown lane', async () => {
    const [one] = arrivals(1, HOUR);
    await expect(twin(TWO_LANE, { arrivals: [{ ...one!, at: START - 1 }] })).rejects.toThrow(/before the run starts/);
    await expect(twin(TWO_LANE, { arrivals: [one!, one!] })).rejects.toThrow(/arrives twice/);
    await expect(twin(TWO_LANE, { arrivals: [{ ...one!, lane: 'lane-9' }] })).rejects.toThrow(/no lane 'lane-9'/);
  });
});
