import { mkdtempSync, copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCatalogue, estimateDuration, checkParameterValue, CatalogueError } from '../../config/catalogue.ts';
import { validateSources } from '../../config/validate.ts';
import { YamlSource } from '../../config/source.ts';
import { canTransition, LADS_STATE_TO_STATE, PACKML_STATE_TO_STATE, MODULE_STATES } from '../../config/state-model.ts';

const catalogueDir = 'modules/catalogue';

function catalogueCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-catalogue-'));
  for (const f of readdirSync(catalogueDir)) copyFileSync(join(catalogueDir, f), join(dir, f));
  return dir;
}

describe('the module catalogue', () => {
  const catalogue = loadCatalogue();

  it('holds the five kinds the workcell needs', () => {
    expect(catalogue.kindNames()).toEqual(['cell-separator', 'electroporator', 'robot-arm', 'rocking-bioreactor', 'settle-plate-handler']);
    expect(Object.keys(catalogue.kind('rocking-bioreactor')!.capabilities)).toEqual(expect.arrayContaining(['seed', 'culture', 'feed', 'sample', 'harvest']));
  });

  it('gives every capability parameters with units and ranges, results, telemetry and a duration model', () => {
    const ep = catalogue.capability('electroporator.electroporate')!.spec;
    expect(ep.parameters.voltage).toMatchObject({ type: 'number', unit: 'V', min: 100, max: 1000, required: true });
    expect(ep.results.viability).toMatchObject({ unit: '%' });
    expect(catalogue.capability('rocking-bioreactor.culture')!.spec.telemetry.glucose).toMatchObject({ unit: 'g/L' });
  });

  it('normalises parameter values into the catalogue unit and refuses what does not fit', () => {
    const culture = catalogue.capability('rocking-bioreactor.culture')!.spec;
    expect(checkParameterValue(culture.parameters.duration!, '36 h')).toEqual({ ok: true, value: 1.5 });
    expect(checkParameterValue(culture.parameters.rockingSpeed!, '60 rpm')).toMatchObject({ ok: false });
    expect(checkParameterValue(culture.parameters.perfusion!, 'sometimes')).toMatchObject({ ok: false, error: expect.stringContaining('by-density') });
  });

  it('estimates durations that are fixed, follow from parameters, or are reported by the device', () => {
    const spec = (ref: string) => catalogue.capability(ref)!.spec;
    expect(estimateDuration(spec('rocking-bioreactor.seed'), {})).toBe(900);
    expect(estimateDuration(spec('cell-separator.wash'), { inputVolume: 40 })).toBe(5 * 60 + 40 * 30);
    expect(estimateDuration(spec('rocking-bioreactor.culture'), { duration: 9 })).toBe(9 * 86400);
    // defaults fill in: 72 h + 48 h of incubation
    expect(estimateDuration(spec('settle-plate-handler.incubate'), {})).toBe(120 * 3600);
    expect(estimateDuration(spec('robot-arm.transfer'), {})).toBe(45);
  });

  it('grows by adding one file: a new kind is usable in layouts and schedules with no code change', () => {
    const dir = catalogueCopy();
    copyFileSync('test/fixtures/catalogue-extra/controlled-rate-freezer.yaml', join(dir, 'controlled-rate-freezer.yaml'));
    const extended = loadCatalogue(dir);
    expect(extended.kindNames()).toContain('controlled-rate-freezer');
    const schedule = new YamlSource('freeze.yaml', [
      'schedule: { id: freeze, version: "1.0", name: Freeze }',
      'steps:',
      '  - id: freeze',
      '    capability: controlled-rate-freezer.freeze',
      '    parameters: { rate: -1 degC/min, endTemperature: -90 degC }',
    ].join('\n'));
    expect(validateSources([schedule], { catalogue: extended }).diagnostics).toEqual([]);
    // and the shipped catalogue does not know it
    expect(validateSources([new YamlSource('freeze.yaml', schedule.text)]).diagnostics.map((d) => d.message)).toEqual([
      "unknown module kind 'controlled-rate-freezer'; known: cell-separator, electroporator, robot-arm, rocking-bioreactor, settle-plate-handler",
    ]);
  });

  it('refuses a broken kind file with FILE:LINE:COL', () => {
    const dir = catalogueCopy();
    writeFileSync(join(dir, 'broken.yaml'), 'kind: broken\ndescription: x\nmaterial: { capacity: 1, container: bag }\nlineClearanceWhenShared: true\ncapabilities:\n  run:\n    description: x\n    parameters:\n      speed: { type: number, unit: furlongs, description: x }\n    results: {}\n    telemetry: {}\n    duration: { known: from-parameters, per: { sped: 1 min } }\n');
    try {
      loadCatalogue(dir);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CatalogueError);
      expect((error as CatalogueError).diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`)).toEqual([
        "9:36: unknown unit 'furlongs'",
        "9:14: parameter 'speed' is optional but has no default: a device is sent every parameter, so give it a default (or make it required)",
        "12:15: duration refers to unknown parameter 'sped'",
      ]);
    }
  });

  it('speaks TCR-T and NK as well as CAR-T: knock-in payloads, NK selections and media, marker results', () => {
    const electroporate = catalogue.kind('electroporator')!.capabilities.electroporate!;
    expect(electroporate.parameters.payload!.values).toContain('RNP-HDR-template');
    expect(electroporate.parameters.transgene!.values).toEqual(['CAR', 'TCR', 'none']);
    expect(electroporate.parameters.targetLocus!.values).toContain('TRAC');
    expect(catalogue.kind('cell-separator')!.capabilities.select!.parameters.markers!.values).toEqual(expect.arrayContaining(['CD56', 'CD3-depletion', 'CD3-depletion+CD56', 'CD4/CD8']));
    const seed = catalogue.kind('rocking-bioreactor')!.capabilities.seed!;
    expect(seed.parameters.medium!.values).toContain('NK-MACS-IL2-IL15');
    expect(seed.parameters.feeders!.values).toContain('K562-mbIL21-41BBL');
    const sample = catalogue.kind('rocking-bioreactor')!.capabilities.sample!;
    for (const marker of ['tcrPositive', 'carPositive', 'cd3Positive', 'cd4Positive', 'cd8Positive', 'cd56Positive', 'cd16Positive']) expect(sample.results[marker]?.unit, marker).toBe('%');
    // A schedule can name them in its controls, in their unit.
    const schedule = new YamlSource(
      'tcr.yaml',
      'schedule: { id: t, version: "1.0.0", name: t }\nsteps:\n  - id: s\n    capability: rocking-bioreactor.sample\n    controls:\n      - { result: tcrPositive, min: 10 % }\n      - { result: cd3Positive, max: 5 % }\n',
    );
    expect(validateSources([schedule], { catalogue }).diagnostics).toEqual([]);
  });
});

describe('the normalized module state model', () => {
  it('maps every LADS and PackML state name onto a known state', () => {
    for (const state of [...Object.values(LADS_STATE_TO_STATE), ...Object.values(PACKML_STATE_TO_STATE)]) expect(MODULE_STATES).toContain(state);
    expect(PACKML_STATE_TO_STATE.Execute).toBe('running');
    expect(LADS_STATE_TO_STATE.Stopped).toBe('idle');
  });

  it('allows the lifecycle of a run and refuses shortcuts out of aborted', () => {
    expect(canTransition('idle', 'running')).toBe(true);
    expect(canTransition('running', 'held')).toBe(true);
    expect(canTransition('aborted', 'running')).toBe(false);
    expect(canTransition('aborted', 'clearing')).toBe(true);
  });
});
