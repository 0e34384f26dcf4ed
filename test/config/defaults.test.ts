/**
 * Layouts and schedules are converted once, when loaded: durations in ms, limits in the unit of what
 * they bound, defaults filled in from config/defaults.ts (the schemas publish the same values), and a
 * value that does not convert is an error at its place in the file.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateSources } from '../../config/validate.ts';
import { formatDiagnostic, YamlSource } from '../../config/source.ts';
import { parseDuration } from '../../config/units.ts';
import { CONTROL_ON_FAIL_DEFAULT, FAILURE_POLICY_DEFAULTS } from '../../config/defaults.ts';

const BASE_SCHEDULE = readFileSync('test/fixtures/schedules/base.yaml', 'utf8');
const BASE_LAYOUT = readFileSync('test/fixtures/layouts/base.yaml', 'utf8');

function load(text: string, file = 'schedule.yaml') {
  const result = validateSources([new YamlSource(file, text)], { today: '2026-01-01' });
  return { ...result, findings: result.diagnostics.map(formatDiagnostic) };
}

function stepsOf(text: string) {
  const { schedules, findings } = load(text);
  expect(findings).toEqual([]);
  return schedules[0]!.model.schedule.steps;
}

describe('defaults', () => {
  it('are the ones the schedule schema publishes', () => {
    const schema = JSON.parse(readFileSync('schedules/schedule.schema.json', 'utf8'));
    const policy = schema.definitions.failurePolicy.properties;
    expect(policy.retries.default).toBe(FAILURE_POLICY_DEFAULTS.retries);
    const backoff = parseDuration(policy.backoff.default);
    expect(backoff.ok && backoff.value * 1000).toBe(FAILURE_POLICY_DEFAULTS.backoffMs);
    expect(policy.alternateModule.default).toBe(FAILURE_POLICY_DEFAULTS.alternateModule);
    expect(schema.definitions.step.properties.onFailure.default).toEqual({ then: FAILURE_POLICY_DEFAULTS.then });
    expect(schema.definitions.control.properties.onFail.default).toBe(CONTROL_ON_FAIL_DEFAULT);
  });

  it('fill what a schedule leaves out: no retry after 30 s, hold; a failed control is a deviation', () => {
    const [wash] = stepsOf(BASE_SCHEDULE);
    expect(wash!.onFailure).toEqual({ retries: 0, backoffMs: 30_000, alternateModule: false, then: 'hold' });
    expect(wash!.controls).toEqual([{ result: 'viability', unit: '%', min: 70, max: undefined, onFail: 'deviation' }]);
  });

  it('give way to what the schedule says', () => {
    const text = BASE_SCHEDULE.replace('    maxHold: 15 min\n', '    maxHold: 15 min\n    onFailure: { retries: 2, backoff: 1 min, alternateModule: true, then: abort }\n');
    const electroporate = stepsOf(text)[1]!;
    expect(electroporate.onFailure).toEqual({ retries: 2, backoffMs: 60_000, alternateModule: true, then: 'abort' });
  });
});

describe('a loaded schedule', () => {
  it('has its durations in ms, the expected duration estimated from the catalogue where the schedule gives none', () => {
    const text = BASE_SCHEDULE.replace("    parameters: { inputVolume: 40 mL }\n", "    parameters: { inputVolume: 40 mL }\n    expectedDuration: 2 h\n").replace('{ inputVolume: 500 mL }', '{ inputVolume: 0.5 L }');
    const { schedules, findings } = load(text);
    expect(findings).toEqual([]);
    const model = schedules[0]!.model;
    const [wash, , expand, concentrate] = model.schedule.steps;
    expect(wash!.expectedDurationMs).toBe(7_200_000);
    expect(wash!.maxHoldMs).toBe(3_600_000);
    expect(concentrate!.maxHoldMs).toBeUndefined();
    expect(concentrate!.parameters.inputVolume).toBe(500); // in the catalogue's mL
    expect(concentrate!.expectedDurationMs).toBe(1_800_000); // 5 min + 0.05 min per mL
    expect(model.expectedDuration(concentrate!)).toBe(concentrate!.expectedDurationMs / 1000);
    expect(expand!.during[0]!.everyMs).toBe(86_400_000);
  });

  it('keeps a threshold as written beside its value in the unit of what it compares', () => {
    const text = BASE_SCHEDULE.replace('  - id: concentrate\n', "  - id: concentrate\n    when: { result: wash.viability, above: 50 % }\n");
    const concentrate = stepsOf(text)[3]!;
    expect(concentrate.when).toEqual({ result: 'wash.viability', unit: '%', above: 50, threshold: '50 %' });
  });

  it('is not loaded when a value does not convert: the error is where the value is written', () => {
    const text = BASE_SCHEDULE.replace('    maxHold: 15 min\n', '    maxHold: 15 min\n    onFailure: { backoff: 30 furlongs, then: hold }\n');
    const { schedules, findings } = load(text);
    expect(schedules).toEqual([]);
    expect(findings).toEqual([expect.stringMatching(/^schedule\.yaml:18:27: backoff: unknown unit 'furlongs'/)]);
  });
});

describe('a loaded layout', () => {
  it('has its line clearances and transfer times in ms', () => {
    const text = BASE_LAYOUT.replace('      transferTime: 40 s\n', '      transferTime: 40 s\n      transferTimes: [{ from: intake, to: sep-1.port, time: 1.5 min }]\n');
    const { layouts, findings } = load(text, 'layout.yaml');
    expect(findings).toEqual([]);
    const modules = layouts[0]!.model.modules;
    expect(modules.get('sep-1')!.lineClearance).toEqual({ durationMs: 900_000 });
    expect(modules.get('bio-1')!.lineClearance).toBeUndefined();
    expect(modules.get('arm-1')!.reach).toEqual({
      positions: ['intake', 'outbound', 'hotel', 'sep-1.port', 'ep-1.port', 'bio-1.port', 'bio-2.port'],
      transferTimeMs: 40_000,
      transferTimes: [{ from: 'intake', to: 'sep-1.port', timeMs: 90_000 }],
    });
  });

  it('is not loaded when a transfer time does not convert', () => {
    const { layouts, findings } = load(BASE_LAYOUT.replace('transferTime: 40 s', 'transferTime: 40 V'), 'layout.yaml');
    expect(layouts).toEqual([]);
    expect(findings).toEqual([expect.stringMatching(/^layout\.yaml:\d+:21: transfer time: wrong unit 'V'/)]);
  });
});
