import { describe, expect, it } from 'vitest';
import { createActor, type AnyMachineSnapshot } from 'xstate';
import type { Clock, Timer } from '../../drivers/clock.ts';
import { ModuleError } from '../../drivers/module.ts';
import type { Schedule } from '../../config/schedule.ts';
import { batchMachine, batchPhase, batchStep, type BatchWork } from '../../orchestrator/batch-machine.ts';
import { HoldRequired } from '../../orchestrator/command-executor.ts';
import { stepMachine, stepPhase, type FailedAttempt, type StepOutcome, type StepPolicy, type StepWork } from '../../orchestrator/step-machine.ts';

/** A workcell clock that moves only when the test says so. */
class ManualClock implements Clock {
  readonly timeScale = 1;
  private time = 0;
  private readonly timers = new Set<{ due: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const timer = { due: this.time + ms, fn };
    this.timers.add(timer);
    return timer as Timer;
  }

  clearTimeout(timer: Timer | undefined): void {
    this.timers.delete(timer as { due: number; fn: () => void });
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = this.setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => {
        this.clearTimeout(timer);
        reject(signal.reason);
      });
    });
  }

  repeat(): Timer {
    throw new Error('not used by the step machine');
  }

  poll(): Timer {
    throw new Error('not used by the step machine');
  }

  async advance(ms: number): Promise<void> {
    this.time += ms;
    for (const timer of [...this.timers].filter((t) => t.due <= this.time)) {
      this.timers.delete(timer);
      timer.fn();
    }
    await settle();
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A step's work that records what it was asked to do and fails where the test says. */
function fakeWork(options: { policy?: Partial<StepPolicy>; arrived?: boolean; failures?: Partial<Record<'transferIn' | 'run', Error[]>> } = {}) {
  const calls: string[] = [];
  const failures = { transferIn: [...(options.failures?.transferIn ?? [])], run: [...(options.failures?.run ?? [])] };
  let failed = 0;
  let attempts = 0;
  let allocated: string | undefined;
  const failOr = (what: 'transferIn' | 'run') => {
    const error = failures[what].shift();
    if (error) throw error;
  };
  const work: StepWork = {
    policy: () => ({ retries: 0, backoffMs: 30_000, alternateModule: false, ...options.policy }),
    arrived: () => options.arrived ?? true,
    receive: async () => void calls.push('receive'),
    conditionUnmet: () => false,
    skipUnmet: async () => void calls.push('skip'),
    startAttempt: async () => {
      calls.push(`start ${++attempts}`);
      return attempts;
    },
    allocate: async (_, attempt, avoid) => {
      calls.push(`allocate ${attempt}${avoid.length > 0 ? ` avoiding ${avoid.join(',')}` : ''}`);
      allocated = avoid.includes('ep-1') ? 'ep-2' : 'ep-1';
      return allocated;
    },
    clearLine: async (_, module) => void calls.push(`clear ${module}`),
    transferIn: async (_, attempt, module) => {
      calls.push(`load ${attempt} ${module}`);
      failOr('transferIn');
    },
    run: async (_, attempt, module) => {
      calls.push(`run ${attempt} ${module}`);
      failOr('run');
      return { viability: 92 };
    },
    checkControls: async (_, attempt, module, results) => void calls.push(`controls ${attempt} ${module} ${JSON.stringify(results)}`),
    startHoldTime: async () => void calls.push('hold time'),
    recordFailure: async (_, attempt, error): Promise<FailedAttempt> => {
      calls.push(`failed ${attempt}: ${(error as Error).message}`);
      return { failures: ++failed, beforeLoad: (error as { beforeLoad?: boolean }).beforeLoad === true, module: allocated };
    },
    release: (module) => void calls.push(`release ${module}`),
    recover: async (module) => void calls.push(`recover ${module}`),
  };
  return { work, calls };
}

function start(work: StepWork, clock = new ManualClock()) {
  const actor = createActor(stepMachine(work), { input: { step: 'electroporate' }, clock });
  const seen: Array<[string, string]> = [];
  actor.subscribe((snapshot) => {
    const state = JSON.stringify(snapshot.value).replaceAll('"', '');
    if (seen.at(-1)?.[0] !== state) seen.push([state, stepPhase(snapshot as AnyMachineSnapshot)]);
  });
  let output: StepOutcome | undefined;
  actor.subscribe({ complete: () => (output = actor.getSnapshot().output as StepOutcome) });
  actor.start();
  return { actor, clock, seen, output: () => output, state: () => actor.getSnapshot().value };
}

describe('the step machine', () => {
  it('goes through a good step in order, each state showing its phase', async () => {
    const { work, calls } = fakeWork({ arrived: false });
    const run = start(work);
    await settle();
    expect(run.output()).toEqual({});
    expect(run.seen).toEqual([
      ['receiving', 'intake'],
      ['starting', 'waiting'],
      ['{waitingForModule:queued}', 'waiting'],
      ['lineClearance', 'clearance'],
      ['transferIn', 'transfer'],
      ['running', 'running'],
      ['checkingControls', 'running'],
      ['holdTimeWindow', 'running'],
      ['done', 'waiting'],
    ]);
    expect(calls).toEqual(['receive', 'start 1', 'allocate 1', 'clear ep-1', 'load 1 ep-1', 'run 1 ep-1', 'controls 1 ep-1 {"viability":92}', 'hold time']);
  });

  it('shows the material moving to storage while it waits for a module', async () => {
    const { work } = fakeWork();
    let grant!: (module: string) => void;
    work.allocate = () => new Promise((resolve) => (grant = resolve));
    const run = start(work);
    await settle();
    run.actor.send({ type: 'parking.started' });
    expect(stepPhase(run.actor.getSnapshot())).toBe('transfer');
    run.actor.send({ type: 'parking.ended' });
    expect(stepPhase(run.actor.getSnapshot())).toBe('waiting');
    grant('ep-1');
    await settle();
    expect(run.output()).toEqual({});
  });

  it('retries a failed attempt after its backoff in workcell clock time, doubling it each time', async () => {
    const { work, calls } = fakeWork({ policy: { retries: 2, backoffMs: 30_000 }, failures: { run: [new ModuleError('ep-1', 'defined', 'cuvette arc'), new ModuleError('ep-1', 'defined', 'cuvette arc again')] } });
    const run = start(work);
    await settle();
    expect(run.state()).toBe('retryWait');
    // While the retry waits, the batch shows the phase the attempt failed in.
    expect(stepPhase(run.actor.getSnapshot())).toBe('running');
    expect(calls.slice(-2)).toEqual(['failed 1: ep-1: cuvette arc', 'recover ep-1']);
    await run.clock.advance(29_999);
    expect(run.state()).toBe('retryWait');
    await run.clock.advance(1);
    expect(run.state()).toBe('retryWait');
    expect(calls.slice(-2)).toEqual(['failed 2: ep-1: cuvette arc again', 'recover ep-1']);
    expect(calls.filter((c) => c.startsWith('failed'))).toEqual(['failed 1: ep-1: cuvette arc', 'failed 2: ep-1: cuvette arc again']);
    await run.clock.advance(59_999);
    expect(run.state()).toBe('retryWait');
    await run.clock.advance(1);
    expect(run.output()).toEqual({});
    expect(calls.filter((c) => c.startsWith('start') || c.startsWith('run'))).toEqual(['start 1', 'run 1 ep-1', 'start 2', 'run 2 ep-1', 'start 3', 'run 3 ep-1']);
  });

  it('moves to the alternate module after a failure before loading, giving the first one up', async () => {
    const misread = Object.assign(new ModuleError('ep-1', 'defined', 'barcode misread at ep-1.port'), { beforeLoad: true });
    const { work, calls } = fakeWork({ policy: { retries: 1, backoffMs: 10_000, alternateModule: true }, failures: { transferIn: [misread] } });
    const run = start(work);
    await settle();
    expect(stepPhase(run.actor.getSnapshot())).toBe('transfer');
    await run.clock.advance(10_000);
    expect(run.output()).toEqual({});
    expect(calls).toEqual([
      'start 1',
      'allocate 1',
      'clear ep-1',
      'load 1 ep-1',
      'failed 1: ep-1: barcode misread at ep-1.port',
      'release ep-1',
      'recover ep-1',
      'start 2',
      'allocate 2 avoiding ep-1',
      'clear ep-2',
      'load 2 ep-2',
      'run 2 ep-2',
      'controls 2 ep-2 {"viability":92}',
      'hold time',
    ]);
  });

  it('stays on its module after a failure once the material was loaded, even with an alternate allowed', async () => {
    const { work, calls } = fakeWork({ policy: { retries: 1, backoffMs: 10_000, alternateModule: true }, failures: { run: [new ModuleError('ep-1', 'defined', 'arc')] } });
    const run = start(work);
    await settle();
    await run.clock.advance(10_000);
    expect(run.output()).toEqual({});
    expect(calls).not.toContain('release ep-1');
    expect(calls).toContain('allocate 2');
  });

  it('holds once the retries are used up, with the failure as a command-failed hold', async () => {
    const { work, calls } = fakeWork({ policy: { retries: 1, backoffMs: 5_000 }, failures: { run: [new ModuleError('ep-1', 'defined', 'arc'), new ModuleError('ep-1', 'defined', 'arc, twice')] } });
    const run = start(work);
    await settle();
    await run.clock.advance(5_000);
    const reason = run.output()?.hold?.reason;
    expect(reason).toBeInstanceOf(HoldRequired);
    expect(reason).toMatchObject({ kind: 'command-failed', message: 'ep-1: arc, twice' });
    // The exhausted attempt is recorded, then nothing more: no recovery, no third attempt.
    expect(calls.slice(-2)).toEqual(['run 2 ep-1', 'failed 2: ep-1: arc, twice']);
    await run.clock.advance(60_000);
    expect(calls.filter((c) => c.startsWith('start'))).toEqual(['start 1', 'start 2']);
  });

  it('holds at once when the failure says so (an operator hold, a device awaiting an answer)', async () => {
    const { work, calls } = fakeWork({ policy: { retries: 3 } });
    const request = new HoldRequired('operator', 'held by a.jansen: check the bag', false);
    work.recordFailure = async () => ({ hold: request });
    work.run = async () => {
      throw request;
    };
    const run = start(work);
    await settle();
    expect(run.output()).toEqual({ hold: { reason: request } });
    expect(calls.filter((c) => c.startsWith('recover') || c.startsWith('start'))).toEqual(['start 1']);
  });
});

describe('a batch machine with its step machines', () => {
  it("reads the batch's step and phase from its machines: held until the answer, waiting while it is carried out", async () => {
    const { work } = fakeWork();
    let attempts = 0;
    work.run = async () => {
      if (++attempts === 1) throw new HoldRequired('control', 'viability 40 % is below 70 %');
      return {};
    };
    work.recordFailure = async (_, __, error) => ({ hold: error });
    let answer!: () => void;
    let settled!: () => void;
    const batchWork: BatchWork = {
      steps: work,
      awaitOperator: () => new Promise((resolve) => (answer = () => resolve({ action: 'retry', recover: 'ep-1' }))),
      settle: () => new Promise((resolve) => (settled = resolve)),
      skipStep: async () => undefined,
      finish: async () => undefined,
      quarantine: async () => undefined,
    };
    const schedule = { steps: [{ id: 'wash' }, { id: 'electroporate' }] } as Schedule;
    const actor = createActor(batchMachine(schedule, batchWork), { input: { batchId: 'P-001', position: { at: 'step', step: 'electroporate' } }, clock: new ManualClock() });
    actor.start();
    const now = () => [batchStep(actor.getSnapshot()), batchPhase(actor.getSnapshot())];
    expect(now()).toEqual(['electroporate', 'waiting']);
    await settle();
    expect(now()).toEqual(['electroporate', 'held']);
    answer();
    await settle();
    expect(now()).toEqual(['electroporate', 'waiting']);
    settled();
    await settle();
    expect(now()).toEqual(['finish', 'completed']);
    expect(attempts).toBe(2);
  });
});
