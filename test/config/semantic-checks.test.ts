/**
 * Each semantic check has a fixture that breaks exactly that rule; the expected line is the exact
 * FILE:LINE:COL: message the user sees.
 */
import { describe, expect, it } from 'vitest';
import { validateFiles, errorCount } from '../../config/validate.ts';
import { formatDiagnostic } from '../../config/source.ts';

const TODAY = '2026-11-22';
const L = (name: string) => `test/fixtures/layouts/${name}.yaml`;
const S = (name: string) => `test/fixtures/schedules/${name}.yaml`;

function lines(files: string[]): string[] {
  return validateFiles(files, { today: TODAY }).diagnostics.map(formatDiagnostic);
}

describe('the base fixtures', () => {
  it('are clean and fit each other', () => {
    expect(lines([L('base'), S('base')])).toEqual([]);
  });
});

const layoutCases: Array<[string, string]> = [
  ['duplicate-module-id', "30:9: duplicate module id 'sep-1' (first defined on line 19)"],
  ['unknown-kind', "31:11: unknown module kind 'electroporater'; did you mean 'electroporator'?"],
  ['capability-not-offered', "34:35: module kind 'electroporator' offers no capability 'wash'; it offers electroporate"],
  ['unknown-lane', "55:13: unknown lane 'lane-3'; known: lane-1, lane-2"],
  ['unknown-zone', "24:11: unknown zone 'isolator'; known: line, bench"],
  ['unknown-reach-position', "70:37: unknown position 'sep-1.door'; did you mean 'sep-1.port'?"],
  ['shared-without-line-clearance', "34:12: module 'ep-1' is shared by lanes lane-1, lane-2 and needs a lineClearance: a shared electroporator is cleared between batches"],
  ['expired-qualification', "48:34: qualification of module 'bio-1' expired on 2026-01-31; an expired module is never allocated"],
  ['negative-transfer-time', "71:21: transfer time must not be negative, got '-40 s'"],
  ['wrong-unit-line-clearance', "26:32: line clearance: wrong unit 'mL' in '15 mL': expected a time in ms, s, min, h, d"],
  ['password-in-layout', "50:140: unknown property 'password': passwords never go in a layout; use passwordEnv (an environment variable) or passwordFile"],
  ['duplicate-endpoint', "80:7: endpoint 127.0.0.1:50001 is already used by module 'sep-1'"],
  ['reach-on-non-robot', "78:5: 'reach' is for robot arms; module 'sph-1' is a settle-plate-handler"],
  ['unknown-served-zone', "77:25: unknown zone 'cleanroom'; known: line, bench"],
  ['not-a-date', "66:34: '2030-02-30' is not a calendar date"],
  ['opcua-mapping-unknown-capability', "68:15: unknown capability of rocking-bioreactor 'cultur'; did you mean 'culture'?"],
];

describe('layout checks', () => {
  it.each(layoutCases)('%s', (name, expected) => {
    const found = lines([L(name)]);
    expect(found).toContain(`${L(name)}:${expected}`);
    // the fixture breaks one rule; a second line may only be a direct consequence of it
    expect(found.length).toBeLessThanOrEqual(2);
  });

  it('warns, without failing, about a qualification that expires within 30 days', () => {
    const result = validateFiles([L('base')], { today: '2029-12-15' });
    expect(errorCount(result.diagnostics)).toBe(0);
    expect(result.diagnostics.map(formatDiagnostic)).toContain(`${L('base')}:28:34: warning: qualification of module 'sep-1' expires on 2030-01-01, in 17 day(s)`);
  });
});

const scheduleCases: Array<[string, string]> = [
  ['duplicate-step-id', "26:9: duplicate step id 'wash' (first defined on line 7)"],
  ['unknown-kind', "15:17: unknown module kind 'electroporater'; did you mean 'electroporator'?"],
  ['capability-not-offered', "27:17: module kind 'cell-separator' offers no capability 'electroporate'; it offers wash, select, harvest"],
  ['unknown-parameter', "20:41: unknown parameter 'speed'; known: duration, temperature, co2, rockingSpeed, rockingAngle, perfusion"],
  ['parameter-out-of-range', "16:28: parameter 'voltage': '1500 V' is outside the allowed range 100 V to 1000 V"],
  ['parameter-wrong-unit', "16:28: parameter 'voltage': wrong unit 'mL' in '500 mL': expected a voltage in V, kV"],
  ['parameter-without-unit', "16:28: parameter 'voltage': '500' has no unit; expected a voltage such as '1 V'"],
  ['missing-required-parameter', "16:17: missing required parameter 'cellDensity'"],
  ['missing-hold-time', "14:5: step 'electroporate' needs maxHold: the longest the material may wait before step 'expand' starts"],
  ['negative-hold-time', "17:14: maxHold must be zero or more, got '-15 min'"],
  ['unknown-control-result', "11:19: unknown result 'viabilty'; did you mean 'viability'?"],
  ['control-wrong-unit', "11:35: wrong unit 'mL' in '70 mL': expected a fraction in %"],
  ['condition-unknown-step', "24:25: unknown earlier step 'select'; known: wash, electroporate"],
  ['during-other-kind', "23:21: 'cell-separator.wash' runs on a cell-separator, but step 'expand' runs on a rocking-bioreactor; work during a step runs on the same module"],
  ['recurring-without-interval', "22:9: recurring step 'sample' needs 'every' (an interval) or 'when' (a condition)"],
];

describe('schedule checks', () => {
  it.each(scheduleCases)('%s', (name, expected) => {
    expect(lines([S(name)])).toEqual([`${S(name)}:${expected}`]);
  });
});

const fitCases: Array<[string, string[]]> = [
  ['lane-without-capability', ["19:17: no module in lane 'lane-2' of layout 'fixture' offers rocking-bioreactor.culture"]],
  ['robot-cannot-reach', [
    "19:17: in lane 'lane-2' of layout 'fixture', no robot arm can carry material from 'ep-1' (after step 'electroporate') to a module for step 'expand' (bio-2)",
    "27:17: in lane 'lane-2' of layout 'fixture', no robot arm can carry material from 'bio-2' (after step 'expand') to a module for step 'concentrate' (sep-1)",
  ]],
  ['no-settle-plates', ["13:30: step 'wash' needs environmental monitoring, but in layout 'fixture' zone 'bench' of module 'sep-1' has no settle-plate location"]],
  ['no-storage', [
    "27:17: warning: step 'concentrate' returns to module 'sep-1' after other modules; in lane 'lane-1' of layout 'fixture' two batches can then each wait for the module the other holds, and the lane has no storage slot to make way",
    "27:17: warning: step 'concentrate' returns to module 'sep-1' after other modules; in lane 'lane-2' of layout 'fixture' two batches can then each wait for the module the other holds, and the lane has no storage slot to make way",
  ]],
];

describe('a schedule against a layout it does not fit', () => {
  it.each(fitCases)('%s', (name, expected) => {
    // each of these layouts is valid on its own
    expect(lines([L(name)])).toEqual([]);
    expect(lines([L(name), S('base')])).toEqual(expected.map((e) => `${S('base')}:${e}`));
  });
});

const malformedCases: Array<[string, string]> = [
  ['tab', '3:1: a tab is used for indentation; YAML expects spaces'],
  ['duplicate-key', '4:3: duplicate key; each key may appear once in a mapping'],
  ['bad-indentation', "2:7: bad indentation or a missing ':'; keys of one mapping start at the same column, each on its own line"],
  ['unterminated-string', '2:7: unterminated string: the quote opened here is never closed'],
  ['collection-key', '5:7: a key must be a plain value, not a mapping or a list'],
  ['not-a-workcell-file', "1:1: expected a layout (a top-level 'layout:' section) or a schedule (a top-level 'schedule:' section)"],
];

describe('malformed YAML', () => {
  it.each(malformedCases)('%s', (name, expected) => {
    const file = `test/fixtures/malformed/${name}.yaml`;
    expect(lines([file])).toEqual([`${file}:${expected}`]);
  });

  it('reports a missing file as an error, not a crash', () => {
    expect(lines(['test/fixtures/none.yaml'])).toEqual(['cannot read test/fixtures/none.yaml: no such file']);
  });
});

describe('schema findings', () => {
  it('lists every finding of a file at once, in file order', () => {
    const result = lines(['test/fixtures/schema/many-errors.yaml']);
    expect(result).toEqual([
      "test/fixtures/schema/many-errors.yaml:3:7: expected an id of letters, digits, '-' and '_' starting with a letter, got '2-lane'",
      "test/fixtures/schema/many-errors.yaml:6:5: missing required property 'id'",
      "test/fixtures/schema/many-errors.yaml:6:5: unknown property 'name'; expected one of id, description",
      "test/fixtures/schema/many-errors.yaml:13:5: unknown property 'vendr'; did you mean 'vendor'?",
      "test/fixtures/schema/many-errors.yaml:14:5: unknown property 'model2'; did you mean 'model'?",
      "test/fixtures/schema/many-errors.yaml:15:12: expected a list of lane ids or 'all', got 'both'",
      'test/fixtures/schema/many-errors.yaml:19:15: expected a whole number, got 70000.5',
      'test/fixtures/schema/many-errors.yaml:19:15: expected a number <= 65535, got 70000.5',
    ]);
  });
});
