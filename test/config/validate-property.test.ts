/**
 * The validator never throws and every finding carries a usable position, whatever it is fed:
 * mutated copies of real layouts and schedules (text edits and structural edits) and random text.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { validateSources } from '../../config/validate.ts';
import { YamlSource, type Diagnostic } from '../../config/source.ts';
import { loadCatalogue } from '../../config/catalogue.ts';
import { propertyParameters, propertyRuns } from '../support/property-runs.ts';

const catalogue = loadCatalogue();
const SEEDS = ['layouts/two-lane.yaml', 'layouts/four-lane.yaml', 'schedules/cart-electroporation.yaml', 'schedules/demo.yaml', 'test/fixtures/layouts/base.yaml', 'test/fixtures/schedules/base.yaml'].map(
  (file) => ({ file, text: readFileSync(file, 'utf8') }),
);
// Each case validates a whole layout or schedule (about 8 ms): 300 a property keep `npm test` quick, a
// new random seed each run, and long runs cover more.
const RUNS = propertyRuns(300);
/** Long runs (WORKCELL_PROPERTY_RUNS) get time in proportion. */
const TIMEOUT = 30_000 + RUNS * 30;

/** Validates a set of texts and checks the invariants; returns the findings for further assertions. */
function validateTexts(texts: Array<{ file: string; text: string }>): Diagnostic[] {
  const sources = texts.map(({ file, text }) => new YamlSource(file, text));
  let diagnostics: Diagnostic[] = [];
  expect(() => {
    diagnostics = validateSources(sources, { catalogue, today: '2026-11-22' }).diagnostics;
  }).not.toThrow();
  for (const d of diagnostics) {
    const text = texts.find((t) => t.file === d.file)?.text;
    expect(text).toBeDefined();
    const lineCount = text!.split('\n').length;
    expect(Number.isInteger(d.line) && d.line >= 1 && d.line <= lineCount, `line ${d.line} of ${lineCount}`).toBe(true);
    expect(Number.isInteger(d.col) && d.col >= 1).toBe(true);
    expect(d.message.length).toBeGreaterThan(0);
    expect(d.message).not.toMatch(/\n|undefined|\[object Object\]/);
  }
  return diagnostics;
}

const yamlNoise = fc.constantFrom('\t', ' ', '  ', ':', ': ', '- ', '"', "'", '[', ']', '{', '}', ',', '#', '&a', '*a', '!!str', '---', '\n', '%', '@', '|', '>', '?', '0', '-1', 'null', 'true', 'lane-9', '1e400', '5 V');

const textEdit = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), what: fc.oneof(yamlNoise, fc.string({ maxLength: 8 })) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('duplicate-line' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap-lines' as const), at: fc.nat(), with: fc.nat() }),
  fc.record({ kind: fc.constant('reindent' as const), at: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
);

type TextEdit = typeof textEdit extends fc.Arbitrary<infer T> ? T : never;

function applyTextEdit(text: string, edit: TextEdit): string {
  const lines = text.split('\n');
  switch (edit.kind) {
    case 'insert': {
      const at = edit.at % (text.length + 1);
      return text.slice(0, at) + edit.what + text.slice(at);
    }
    case 'delete': {
      const at = edit.at % (text.length + 1);
      return text.slice(0, at) + text.slice(at + edit.length);
    }
    case 'duplicate-line': {
      const i = edit.at % lines.length;
      lines.splice(i, 0, lines[i]!);
      return lines.join('\n');
    }
    case 'swap-lines': {
      const i = edit.at % lines.length;
      const j = edit.with % lines.length;
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return lines.join('\n');
    }
    case 'reindent': {
      const i = edit.at % lines.length;
      lines[i] = edit.by >= 0 ? ' '.repeat(edit.by) + lines[i] : lines[i]!.replace(new RegExp(`^ {0,${-edit.by}}`), '');
      return lines.join('\n');
    }
  }
}

/** Replaces, deletes or retypes one node of the parsed document, then writes it back as YAML. */
function structuralEdit(data: unknown, path: number[], replacement: unknown, remove: boolean): unknown {
  if (path.length === 0 || data === null || typeof data !== 'object') return replacement;
  const keys = Array.isArray(data) ? data.map((_, i) => i) : Object.keys(data);
  if (keys.length === 0) return replacement;
  const key = keys[path[0]! % keys.length]!;
  const copy: any = Array.isArray(data) ? [...data] : { ...(data as object) };
  if (remove && path.length === 1) {
    if (Array.isArray(copy)) copy.splice(key as number, 1);
    else delete copy[key];
    return copy;
  }
  copy[key] = structuralEdit(copy[key], path.slice(1), replacement, remove);
  return copy;
}

const jsonish = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1e9, '', 'all', 'lane-1', 'sep-1', '5 min', '-5 min', '500 V', '2e6 cells/mL', 'cell-separator.wash', '2030-01-01', 'opc.tcp://x'),
  fc.string({ maxLength: 12 }),
  fc.double(),
  fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
  fc.dictionary(fc.constantFrom('id', 'kind', 'lanes', 'capability', 'maxHold', 'x'), fc.string({ maxLength: 6 }), { maxKeys: 3 }),
);

describe('the validator on arbitrary input', () => {
  it('never throws on text-mutated layouts and schedules, and every finding has a position', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(textEdit, { minLength: 1, maxLength: 4 }), (seedIndex, edits) => {
        const seed = SEEDS[seedIndex % SEEDS.length]!;
        const text = edits.reduce(applyTextEdit, seed.text);
        validateTexts([{ file: seed.file, text }]);
      }),
      propertyParameters(RUNS),
    );
  }, TIMEOUT);

  it('never throws on structurally mutated documents, validated alone and as layout/schedule pairs', () => {
    const parsed = SEEDS.map((s) => ({ file: s.file, data: new YamlSource(s.file, s.text).data }));
    fc.assert(
      fc.property(
        fc.nat(),
        fc.array(fc.record({ path: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), value: jsonish, remove: fc.boolean() }), { minLength: 1, maxLength: 3 }),
        (seedIndex, edits) => {
          const seed = parsed[seedIndex % parsed.length]!;
          const data = edits.reduce((d, e) => structuralEdit(d, e.path, e.value, e.remove), seed.data);
          const mutated = { file: seed.file, text: stringify(data) };
          const partner = seed.file.includes('layout') ? SEEDS[2]! : SEEDS[0]!;
          validateTexts([mutated, partner]);
        },
      ),
      propertyParameters(RUNS),
    );
  }, TIMEOUT);

  it('never throws on random text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.array(yamlNoise, { maxLength: 60 }).map((parts) => parts.join(''))), (text) => {
        validateTexts([{ file: 'random.yaml', text }]);
      }),
      propertyParameters(RUNS),
    );
  }, TIMEOUT);
});
