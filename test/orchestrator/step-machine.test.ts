import { describe, expect, it } from 'vitest';
import { createActor, setup, type AnyActorRef, type AnyMachineSnapshot } from 'xstate';
import type { Clock, Timer } from '../../drivers/clock.ts';
import { ModuleError } from '../../drivers/module.ts';
import type { Schedule } from '../../config/schedule.ts';
import { batchMachine, batchPhase, batchStep, type BatchWork, type ResumePoint } from '../../orchestrator/batch-machine.ts';
import { HoldRequired } from '../../orchestrator/command-executor.ts';
import type { LogEntry } from '../../orchestrator/entries.ts';
import { stepMachine, stepPhase, type FailedAttempt, type HoldEvent, type StepPolicy, type StepResume, type StepWork } from '../../orchestrator/step-machine.ts';
import { sample } from '../support/entries.ts';

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
    run: async (_, attempt, module, resumed) => {
      calls.push(`run ${attempt} ${module}${resumed ? ' (re-attached)' : ''}`);
      failOr('run');
      return { viability: 92 };
    },
    checkControls: async (_, attempt, module, results) => void calls.push(`controls ${attempt} ${module} ${JSON.stringify(results)}`),
    startHoldTime: async (_, since) => void calls.push(since === undefined ? 'hold time' : `hold time since ${since}`),
    recordFailure: async (_, attempt, error): Promise<FailedAttempt> => {
      calls.push(`failed ${attempt}: ${(error as Error).message}`);
      return { failures: ++failed, beforeLoad: (error as { beforeLoad?: boolean }).beforeLoad === true, module: allocated };
    },
    release: (module) => void calls.push(`release ${module}`),
    recover: async (module) => void calls.push(`recover ${module}`),
  };
  return { work, calls };
}

/** How a step ended, for the tests: done, or held with the reason its HOLD event gave its batch. */
type StepOutcome = { hold?: { reason: unknown } };

/**
 * Runs a step machine as its batch machine does, as a child of a machine that takes its HOLD event
 * (a step tells its batch to hold by an event; it has no output of its own).
 */
function start(work: StepWork, clock = new ManualClock(), resume?: StepResume) {
  const holds: HoldEvent[] = [];
  const parent = setup({ actors: { step: stepMachine(work) } }).createMachine({
    initial: 'running',
    states: {
      running: { invoke: { id: 'step', src: 'step', input: { step: 'electroporate', resume }, onDone: 'done' }, on: { HOLD: { target: 'held', actions: ({ event }) => void holds.push(event as HoldEvent) } } },
      held: { type: 'final' },
      done: { type: 'final' },
    },
  });
  const batch = createActor(parent, { clock });
  batch.start();
  const actor = batch.getSnapshot().children.step as AnyActorRef;
  const seen: Array<[string, string]> = [];
  const record = (snapshot: AnyMachineSnapshot) => {
    const state = JSON.stringify(snapshot.value).replaceAll('"', '');
    if (seen.at(-1)?.[0] !== state) seen.push([state, stepPhase(snapshot)]);
  };
  record(actor.getSnapshot() as AnyMachineSnapshot);
  actor.subscribe((snapshot) => record(snapshot as AnyMachineSnapshot));
  const output = (): StepOutcome | undefined => {
    const value = batch.getSnapshot().value;
    return value === 'done' ? {} : value === 'held' ? { hold: { reason: holds[0]!.reason } } : undefined;
  };
  return { actor, clock, seen, holds, output, state: () => actor.getSnapshot().value };
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

/** A log entry of the batch, as the log hands it back. */
function entryOf<T extends 'hold.opened' | 'hold.resolved'>(type: T, seq: number, data: Partial<LogEntry<T>['data']> = {}): LogEntry<T> {
  return { seq, stream: 'P-001', streamSeq: seq, at: 0, recordedAt: 0, previousHash: '', hash: `h${seq}`, type, data: sample(type, data) } as LogEntry<T>;
}

/** The batch's work around its steps: holds numbered as the log would, each answer carried out as `decide` says. */
function fakeBatchWork(steps: StepWork, options: { settle?: () => Promise<void>; skipStep?: () => Promise<void>; quarantine?: (step: string) => Promise<void>; answered?: LogEntry<'hold.resolved'> } = {}) {
  const calls: string[] = [];
  let seq = 10;
  const holds: Array<LogEntry<'hold.opened'>> = [];
  const work: BatchWork = {
    steps,
    openHold: async (step, reason, actedOn) => {
      const pending = holds.at(-1);
      if (pending && pending.seq !== actedOn) {
        calls.push(`hold ${pending.seq} taken up`);
        return { hold: pending, answer: options.answered };
      }
      const hold = entryOf('hold.opened', (seq += 10), { step, message: reason instanceof Error ? reason.message : String(reason) });
      holds.push(hold);
      calls.push(`hold ${hold.seq} opened: ${hold.data.message}`);
      return { hold };
    },
    carryOut: async (hold, answer) => {
      calls.push(`answer ${answer.data.action} to hold ${hold.seq}`);
      return { action: answer.data.action, recover: 'ep-1' };
    },
    settle: options.settle ?? (async () => void calls.push('settle')),
    answerFailed: (step, error) => void calls.push(`alarm at ${step}: ${(error as Error).message}`),
    skipStep: options.skipStep ?? (async () => void calls.push('skip')),
    finish: async () => void calls.push('finish'),
    quarantine: options.quarantine ?? (async (step) => void calls.push(`quarantine at ${step}`)),
  };
  /** The operator's answer to the latest hold, as the orchestrator sends it once it is in the log. */
  const answer = (action: 'retry' | 'skip' | 'abort', to = holds.at(-1)!) => ({ type: 'ANSWERED' as const, answer: entryOf('hold.resolved', to.seq + 1, { step: to.data.step, hold: to.streamSeq, action }) });
  return { work, calls, holds, answer };
}

function startBatch(work: BatchWork, position: { at: 'step'; step: string } | { at: 'held'; step: string } = { at: 'step', step: 'electroporate' }, resumeAt?: ResumePoint) {
  const schedule = { steps: [{ id: 'wash' }, { id: 'electroporate' }] } as Schedule;
  const actor = createActor(batchMachine(schedule, work), { input: { batchId: 'P-001', position, resumeAt }, clock: new ManualClock() });
  actor.start();
  const now = () => [batchStep(actor.getSnapshot()), batchPhase(actor.getSnapshot())];
  return { actor, now };
}

describe('a step resumed after a restart', () => {
  it('enters running when its command was sent, and follows the same attempt on the same module again', async () => {
    const { work, calls } = fakeWork();
    const run = start(work, new ManualClock(), { state: 'running', attempt: 2, module: 'ep-2' });
    expect(run.seen[0]).toEqual(['running', 'running']);
    await settle();
    expect(run.output()).toEqual({});
    // No new attempt, no allocation, no clearance, no transfer: the command is re-attached, then controls and the hold time.
    expect(calls).toEqual(['run 2 ep-2 (re-attached)', 'controls 2 ep-2 {"viability":92}', 'hold time']);
  });

  it('resumes a retry after a failure of the re-attached command as a new attempt, not re-attached again', async () => {
    const { work, calls } = fakeWork({ policy: { retries: 1, backoffMs: 1000 }, failures: { run: [new ModuleError('ep-2', 'defined', 'arc')] } });
    const run = start(work, new ManualClock(), { state: 'running', attempt: 2, module: 'ep-2' });
    await settle();
    await run.clock.advance(1000);
    expect(run.output()).toEqual({});
    expect(calls.filter((c) => c.startsWith('run') || c.startsWith('start'))).toEqual(['run 2 ep-2 (re-attached)', 'start 1', 'run 1 ep-1']);
  });

  it('enters the hold-time window when the step completed and its window never opened, counting from the completion', async () => {
    const { work, calls } = fakeWork();
    const run = start(work, new ManualClock(), { state: 'holdTimeWindow', since: 42_000 });
    expect(run.seen[0]).toEqual(['holdTimeWindow', 'running']);
    await settle();
    expect(run.output()).toEqual({});
    expect(calls).toEqual(['hold time since 42000']);
  });

  it('is entered by its batch machine where the resume point says, once', async () => {
    const { work: steps, calls: stepCalls } = fakeWork();
    const { work } = fakeBatchWork(steps);
    const batch = startBatch(work, { at: 'step', step: 'electroporate' }, { step: 'wash', resume: { state: 'holdTimeWindow', since: 5 } });
    expect(batch.now()).toEqual(['wash', 'running']);
    await settle();
    expect(batch.now()).toEqual(['finish', 'completed']);
    // The window after wash, then electroporate from the top.
    expect(stepCalls).toEqual(['hold time since 5', 'start 1', 'allocate 1', 'clear ep-1', 'load 1 ep-1', 'run 1 ep-1', 'controls 1 ep-1 {"viability":92}', 'hold time']);
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
    let settled!: () => void;
    const { work: batchWork, answer } = fakeBatchWork(work, { settle: () => new Promise((resolve) => (settled = resolve)) });
    const { actor, now } = startBatch(batchWork);
    expect(now()).toEqual(['electroporate', 'waiting']);
    await settle();
    expect(now()).toEqual(['electroporate', 'held']);
    actor.send(answer('retry'));
    await settle();
    expect(now()).toEqual(['electroporate', 'waiting']);
    settled();
    await settle();
    expect(now()).toEqual(['finish', 'completed']);
    expect(attempts).toBe(2);
  });

  it('holds on the HOLD event of its step and takes only an answer given after that hold opened', async () => {
    const { work: steps } = fakeWork();
    steps.run = async () => {
      throw new HoldRequired('control', 'viability 40 % is below 70 %');
    };
    steps.recordFailure = async (_, __, error) => ({ hold: error });
    const { work, calls, holds, answer } = fakeBatchWork(steps);
    const { actor, now } = startBatch(work);
    await settle();
    expect(calls).toEqual(['hold 20 opened: viability 40 % is below 70 %']);
    // An answer older than the hold (the log is read from its start) answers an earlier one.
    actor.send(answer('retry', entryOf('hold.opened', 5)));
    await settle();
    expect(now()).toEqual(['electroporate', 'held']);
    actor.send(answer('abort'));
    await settle();
    expect(now()).toEqual(['electroporate', 'quarantined']);
    expect(calls).toEqual(['hold 20 opened: viability 40 % is below 70 %', 'answer abort to hold 20', 'settle', 'quarantine at electroporate']);
    expect(holds).toHaveLength(1);
  });

  it('takes up a hold answered while no orchestrator ran, and skips the step as the answer says', async () => {
    const { work: steps, calls: stepCalls } = fakeWork();
    const answered = entryOf('hold.resolved', 21, { step: 'wash', action: 'skip' });
    const { work, calls, holds } = fakeBatchWork(steps, { answered });
    holds.push(entryOf('hold.opened', 20, { step: 'wash' }));
    const { now } = startBatch(work, { at: 'held', step: 'wash' });
    await settle();
    expect(calls).toEqual(['hold 20 taken up', 'answer skip to hold 20', 'settle', 'skip', 'finish']);
    expect(now()).toEqual(['finish', 'completed']);
    expect(stepCalls.filter((c) => c.startsWith('start'))).toEqual(['start 1']);
  });

  it('holds again with an alarm when an answer cannot be carried out, and waits for an operator each time', async () => {
    const { work: steps } = fakeWork();
    steps.run = async () => {
      throw new HoldRequired('control', 'viability 40 % is below 70 %');
    };
    steps.recordFailure = async (_, __, error) => ({ hold: error });
    let settles = 0;
    const { work, calls, answer } = fakeBatchWork(steps, {
      settle: async () => {
        if (++settles <= 2) throw new Error(`ep-1 did not recover (${settles})`);
      },
    });
    const { actor, now } = startBatch(work);
    await settle();
    actor.send(answer('retry'));
    await settle();
    // The failed settle is an alarm and a new hold; nothing is tried again until an operator answers it.
    expect(calls.slice(1)).toEqual(['answer retry to hold 20', 'alarm at electroporate: ep-1 did not recover (1)', 'hold 30 opened: the answer retry to the hold at electroporate could not be carried out: ep-1 did not recover (1)']);
    expect(now()).toEqual(['electroporate', 'held']);
    await settle();
    expect(settles).toBe(1);
    actor.send(answer('retry'));
    await settle();
    expect(settles).toBe(2);
    expect(calls.at(-1)).toBe('hold 40 opened: the answer retry to the hold at electroporate could not be carried out: ep-1 did not recover (2)');
    expect(now()).toEqual(['electroporate', 'held']);
    actor.send(answer('abort'));
    await settle();
    expect(now()).toEqual(['electroporate', 'quarantined']);
  });

  it('holds again with an alarm when a quarantine fails, never ending the batch without it', async () => {
    const { work: steps } = fakeWork();
    steps.run = async () => {
      throw new HoldRequired('control', 'viability 40 % is below 70 %');
    };
    steps.recordFailure = async (_, __, error) => ({ hold: error });
    let quarantines = 0;
    const { work, calls, answer } = fakeBatchWork(steps, {
      quarantine: async (step) => {
        calls.push(`quarantine at ${step}`);
        if (++quarantines === 1) throw new Error('arm-1 could not reach the quarantine position');
      },
    });
    const { actor, now } = startBatch(work);
    await settle();
    actor.send(answer('abort'));
    await settle();
    expect(calls.slice(-3)).toEqual(['quarantine at electroporate', 'alarm at electroporate: arm-1 could not reach the quarantine position', 'hold 30 opened: the answer abort to the hold at electroporate could not be carried out: arm-1 could not reach the quarantine position']);
    expect(now()).toEqual(['electroporate', 'held']);
    actor.send(answer('abort'));
    await settle();
    expect(now()).toEqual(['electroporate', 'quarantined']);
  });

  it('holds again with an alarm when a skip cannot be recorded, rather than erroring the batch', async () => {
    const { work: steps } = fakeWork();
    steps.run = async () => {
      throw new HoldRequired('control', 'viability 40 % is below 70 %');
    };
    steps.recordFailure = async (_, __, error) => ({ hold: error });
    const { work, calls, answer } = fakeBatchWork(steps, {
      skipStep: async () => {
        throw new Error('the log is read-only');
      },
    });
    const { actor, now } = startBatch(work);
    await settle();
    actor.send(answer('skip'));
    await settle();
    expect(actor.getSnapshot().status).toBe('active');
    expect(now()).toEqual(['electroporate', 'held']);
    expect(calls.slice(-2)).toEqual(['alarm at electroporate: the log is read-only', 'hold 30 opened: the answer skip to the hold at electroporate could not be carried out: the log is read-only']);
  });
});
