/**
 * The MaterialGate on its own, over devices that answer at once: every device command goes through it,
 * a batch's only where its material is, a robot's in the batch's stream, the workcell's own (settle
 * plates) never on a module a batch holds; recovery goes through the executor; clearance durations come
 * from the loaded layout.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadWorkcell } from '../../config/validate.ts';
import { ScaledClock } from '../../drivers/clock.ts';
import type { ModuleDriver, ResultValue } from '../../drivers/module.ts';
import type { ModuleKind } from '../../config/catalogue.ts';
import { EventLog, WORKCELL_STREAM } from '../../orchestrator/event-log.ts';
import { MaterialGate, type BatchIdentity } from '../../orchestrator/material-gate.ts';

/** A device that does at once what it is told, and notes it. */
function promptDevice(id: string, kind: ModuleKind, calls: string[]): ModuleDriver {
  let executions = 0;
  const noted = (what: string) => async () => void calls.push(`${id} ${what}`);
  return {
    id,
    kind,
    capabilities: () => Object.keys(kind.capabilities),
    async execute(capability, parameters) {
      calls.push(`${id} ${capability}`);
      const token = { module: id, capability, protocol: 'sila2' as const, id: `${id}-${++executions}` };
      const results: Record<string, ResultValue> = capability === 'transfer' ? { scannedAtPick: String(parameters.itemId), scannedAtPlace: String(parameters.itemId) } : {};
      return { token, progress: async function* () {}, result: async () => results };
    },
    reattach: () => Promise.reject(new Error('nothing to re-attach')),
    readState: async () => 'idle',
    watchState: async (listener) => (listener('idle'), () => undefined),
    watchTelemetry: async () => () => undefined,
    hold: noted('hold'),
    resume: noted('resume'),
    abort: noted('abort'),
    clear: noted('clear'),
    close: async () => undefined,
  };
}

const first: BatchIdentity = { batchId: 'P-001', lane: 'lane-1', bagId: 'BAG-1' };
const second: BatchIdentity = { batchId: 'P-002', lane: 'lane-2', bagId: 'BAG-2' };
const wash = (batch: BatchIdentity, key: string) => ({ batch, module: 'sep-1', capability: 'wash', parameters: {}, key, stepId: 'wash', expectedSeconds: 1 });

describe('the material gate', () => {
  let calls: string[];
  let log: EventLog;
  let gate: MaterialGate;
  let clock: ScaledClock;

  beforeEach(() => {
    const { layout } = loadWorkcell('test/fixtures/layouts/base.yaml', [], { today: '2026-01-01' });
    calls = [];
    log = new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-gate-')), 'log.db'));
    clock = new ScaledClock(1);
    const drivers = new Map(layout.model.layout.modules.map((m) => [m.id, promptDevice(m.id, layout.model.catalogue.kind(m.kind)!, calls)]));
    gate = new MaterialGate(layout.model, drivers, log, clock);
  });

  afterEach(async () => {
    await gate.close();
    log.close();
  });

  it("sends a batch's command only to a module it holds with its material inside; the robot's move is the batch's", async () => {
    gate.received(first, 'intake', 'BAG-1');
    await expect(gate.command(wash(first, 'k1'))).rejects.toThrow('sep-1 is not allocated to P-001');
    gate.reserve(first, 'sep-1');
    await expect(gate.command(wash(first, 'k2'))).rejects.toThrow("P-001's material is not in sep-1");
    expect(calls).toEqual([]);

    await gate.transfer(first, 'sep-1.port', 'k3');
    expect(calls).toEqual(['arm-1 transfer']);
    const moved = log.stream(first.batchId).find((e) => e.type === 'command.issued');
    expect(moved?.data).toMatchObject({ module: 'arm-1', capability: 'transfer', key: 'k3' });
    expect(log.stream(WORKCELL_STREAM).filter((e) => e.type === 'command.issued')).toEqual([]);

    await gate.command(wash(first, 'k4'));
    expect(calls).toEqual(['arm-1 transfer', 'sep-1 wash']);
  });

  it('runs a command for no batch in the workcell stream, never on a module a batch holds nor on a robot arm', async () => {
    await gate.workcellCommand('sph-1', 'place-plate', { location: 'sp-1', plateId: 'SP-1' }, 'em:SP-1:place');
    expect(log.stream(WORKCELL_STREAM).find((e) => e.type === 'command.issued')?.data).toMatchObject({ module: 'sph-1', capability: 'place-plate' });

    gate.reserve(first, 'sep-1');
    await expect(gate.workcellCommand('sep-1', 'wash', {}, 'w1')).rejects.toThrow('sep-1 is held by P-001');
    await expect(gate.workcellCommand('arm-1', 'scan', { at: 'intake' }, 'w2')).rejects.toThrow('arm-1 is a robot arm');
    expect(calls).toEqual(['sph-1 place-plate']);
  });

  it('brings a module back to idle through the executor, as far as its state needs', async () => {
    gate.reconcileState('sep-1', 'running', 'test');
    gate.reconcileState('ep-1', 'faulted', 'test');
    await gate.recover('sep-1');
    await gate.recover('ep-1');
    expect(calls).toEqual(['sep-1 abort', 'sep-1 clear', 'ep-1 clear']);
  });

  it("clears a shared module for the layout's duration before another batch's material may enter", async () => {
    gate.received(first, 'intake', 'BAG-1');
    gate.reserve(first, 'sep-1');
    await gate.transfer(first, 'sep-1.port', 'k1');
    await gate.transfer(first, 'outbound', 'k2');
    const started = log.stream(WORKCELL_STREAM).find((e) => e.type === 'line-clearance.started')!;
    expect(Number(started.data.until) - started.at).toBeCloseTo(15 * 60_000, -1);
    expect(gate.clearanceBefore('sep-1', second.batchId)).toBeGreaterThan(14 * 60_000);

    gate.received(second, 'intake', 'BAG-2');
    gate.reserve(second, 'sep-1');
    await expect(gate.transfer(second, 'sep-1.port', 'k3')).rejects.toThrow('sep-1 needs line clearance before P-002');
    expect(gate.whereIs(second.batchId)).toBe('intake');
  });
});
