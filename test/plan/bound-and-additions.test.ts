/** The bottleneck bound from step durations and module counts, and --add: more modules of a kind without editing YAML. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';
import { loadWorkcell } from '../../config/validate.ts';
import { PlanInputError } from '../../orchestrator/capacity/arrivals.ts';
import { bottleneckBound } from '../../orchestrator/capacity/bound.ts';
import { addModules, parseAddition, writeExtendedLayout } from '../../orchestrator/capacity/layout-additions.ts';

const LAYOUT = 'test/fixtures/layouts/two-lane-sila.yaml';
const dir = mkdtempSync(join(tmpdir(), 'workcell-bound-'));
// The short test schedule with durations one can add up: 60, 20 and 60 min.
const schedule = join(dir, 'timed.yaml');
writeFileSync(
  schedule,
  readFileSync('test/fixtures/schedules/short.yaml', 'utf8')
    .replace('capability: cell-separator.wash', 'capability: cell-separator.wash\n    expectedDuration: 60 min')
    .replace('capability: electroporator.electroporate', 'capability: electroporator.electroporate\n    expectedDuration: 20 min')
    .replace('capability: cell-separator.harvest', 'capability: cell-separator.harvest\n    expectedDuration: 60 min'),
);
const WEEK_MIN = 7 * 24 * 60;

describe('the bottleneck bound', () => {
  it('each kind: its modules × a week over what one batch keeps one of them busy; the least bounds the line', () => {
    const { layout, schedules } = loadWorkcell(LAYOUT, [schedule]);
    const bound = bottleneckBound(layout.model, schedules[0]!.model);
    const byKind = Object.fromEntries(bound.byKind.map((k) => [k.kind, { modules: k.modules.length, minutes: k.perBatchMs / 60_000 }]));
    // Separators (one per lane, not shared): wash and concentrate, each 60 min + 45 s in + 45 s out.
    expect(byKind['cell-separator']).toEqual({ modules: 2, minutes: 123 });
    // The shared electroporator: 20 min + moves in and out + its 15 min line clearance after each batch.
    expect(byKind.electroporator).toEqual({ modules: 1, minutes: 36.5 });
    // The arm: into three modules and out to the output, 45 s each.
    expect(byKind['robot-arm']).toEqual({ modules: 1, minutes: 3 });
    expect(bound.kind).toBe('cell-separator');
    expect(bound.patientsPerWeek).toBeCloseTo((2 * WEEK_MIN) / 123, 9);
    expect(bound.evenLanes).toEqual({ patientsPerWeek: bound.patientsPerWeek, kind: 'cell-separator' });
  });

  it("a third separator for lane 1 raises the bound, not the rate arrivals even over the lanes can keep up with", () => {
    const { layout, schedules } = extended([{ kind: 'cell-separator', count: 1 }]);
    const bound = bottleneckBound(layout.model, schedules[0]!.model);
    const separators = bound.byKind.find((k) => k.kind === 'cell-separator')!;
    // Lane 2 gets half the batches and still has its one separator: as if the line had two.
    expect([separators.modules.length, separators.effectiveModules]).toEqual([3, 2]);
    expect(bound.patientsPerWeek).toBeCloseTo((3 * WEEK_MIN) / 123, 9);
    expect(bound.evenLanes.kind).toBe('cell-separator');
    expect(bound.evenLanes.patientsPerWeek).toBeCloseTo((2 * WEEK_MIN) / 123, 9);
  });

  it('with a second separator in each lane, the shared electroporator bounds the line', () => {
    const doc = parseDocument(addModules(readFileSync(LAYOUT, 'utf8'), LAYOUT, [{ kind: 'cell-separator', count: 2 }]).text);
    // --add copies the first separator (lane 1); the second copy goes to lane 2.
    const modules = doc.get('modules') as YAMLSeq<YAMLMap>;
    modules.items.find((m) => m.get('id') === 'sep-1-3')!.set('lanes', doc.createNode(['lane-2']));
    const { layout, schedules } = loadWorkcell(writeExtendedLayout(LAYOUT, doc.toString()), [schedule]);
    const bound = bottleneckBound(layout.model, schedules[0]!.model);
    expect(bound.byKind.find((k) => k.kind === 'cell-separator')!.effectiveModules).toBe(4);
    expect(bound.kind).toBe('electroporator');
    expect(bound.patientsPerWeek).toBeCloseTo(WEEK_MIN / 36.5, 9);
    expect(bound.evenLanes).toEqual({ patientsPerWeek: bound.patientsPerWeek, kind: 'electroporator' });
  });
});

function extended(additions: Array<{ kind: string; count: number }>) {
  const { text } = addModules(readFileSync(LAYOUT, 'utf8'), LAYOUT, additions);
  return loadWorkcell(writeExtendedLayout(LAYOUT, text), [schedule]);
}

describe('--add MODULE_KIND=N', () => {
  it('copies the first module of the kind: new ids and endpoints, same lanes and zone, reached by the same arms', () => {
    const { text, added } = addModules(readFileSync(LAYOUT, 'utf8'), LAYOUT, [{ kind: 'electroporator', count: 2 }]);
    expect(added).toEqual([{ kind: 'electroporator', ids: ['ep-1-2', 'ep-1-3'] }]);
    const { layout } = loadWorkcell(writeExtendedLayout(LAYOUT, text), [schedule]);
    const original = layout.model.modules.get('ep-1')!;
    const ports = layout.model.layout.modules.map((m) => m.connection.sila2?.port).filter((p) => p !== undefined);
    expect(new Set(ports).size).toBe(ports.length);
    for (const id of ['ep-1-2', 'ep-1-3']) {
      const copy = layout.model.modules.get(id)!;
      expect({ kind: copy.kind, lanes: copy.lanes, zone: copy.zone, lineClearance: copy.lineClearance }).toEqual({ kind: original.kind, lanes: original.lanes, zone: original.zone, lineClearance: original.lineClearance });
      expect(copy.connection.sila2!.tls?.ca).toContain(`${id}-ca.pem`);
      expect(layout.model.robotArms().some((arm) => arm.reach!.positions.includes(`${id}.port`))).toBe(true);
    }
    // The copies fit the schedule as the original does: each lane may use any electroporator.
    expect(layout.model.modulesFor('lane-2', 'electroporator.electroporate').map((m) => m.id)).toEqual(['ep-1', 'ep-1-2', 'ep-1-3']);
  });

  it('copies a module named by its id: a separator for lane 2', () => {
    const { text, added } = addModules(readFileSync(LAYOUT, 'utf8'), LAYOUT, [{ kind: 'sep-2', count: 1 }]);
    expect(added).toEqual([{ kind: 'cell-separator', ids: ['sep-2-2'] }]);
    const { layout, schedules } = loadWorkcell(writeExtendedLayout(LAYOUT, text), [schedule]);
    expect(layout.model.modulesFor('lane-2', 'cell-separator.wash').map((m) => m.id)).toEqual(['sep-2', 'sep-2-2']);
    const separators = bottleneckBound(layout.model, schedules[0]!.model).byKind.find((k) => k.kind === 'cell-separator')!;
    expect([separators.modules.length, separators.effectiveModules]).toEqual([3, 2]);
  });

  it('refuses a kind the layout has none of, and what does not parse', () => {
    expect(() => addModules(readFileSync(LAYOUT, 'utf8'), LAYOUT, [{ kind: 'rocking-bioreactor', count: 1 }])).toThrow(new PlanInputError(`--add rocking-bioreactor=1: layout ${LAYOUT} has no rocking-bioreactor to copy (its kinds: cell-separator, electroporator, robot-arm, settle-plate-handler; or name a module)`));
    expect(parseAddition('electroporator=2')).toEqual({ kind: 'electroporator', count: 2 });
    for (const bad of ['electroporator', 'electroporator=0', '=1', 'ep=two']) expect(() => parseAddition(bad)).toThrow(`--add '${bad}' does not parse: give MODULE_KIND=N, such as electroporator=1 (N at least 1)`);
  });
});
