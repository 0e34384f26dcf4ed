/**
 * Checks a YAML document against one of Workcell's JSON Schemas and reports each failure at the node
 * it is about, in words an automation engineer can act on.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { describeValue } from './units.ts';
import type { PathSegment, YamlSource } from './source.ts';

/** Schemas may carry `x-expected`, a phrase saying what a pattern-checked string should look like. */
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
ajv.addVocabulary(['x-expected']);

const compiled = new Map<string, ValidateFunction>();

export function schemaValidator(schemaFile: URL): ValidateFunction {
  const key = schemaFile.href;
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')));
    compiled.set(key, validate);
  }
  return validate;
}

/** Reports every schema violation into `source`; returns whether the document conforms. */
export function checkAgainstSchema(source: YamlSource, schemaFile: URL): boolean {
  const validate = schemaValidator(schemaFile);
  if (validate(source.data)) return true;
  const seen = new Set<string>();
  for (const error of groupMissingProperties(validate.errors ?? [])) {
    const { path, message, anchor } = describeSchemaError(error, source.data);
    const key = `${path.join('/')}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    source.reportAt(path, message, anchor);
  }
  return false;
}

/** Several missing properties of one mapping become one finding that names them all. */
function groupMissingProperties(errors: ErrorObject[]): ErrorObject[] {
  const grouped: ErrorObject[] = [];
  const missingByPath = new Map<string, string[]>();
  for (const error of errors) {
    if (error.keyword !== 'required') {
      grouped.push(error);
      continue;
    }
    const property = String((error.params as Record<string, unknown>).missingProperty);
    const missing = missingByPath.get(error.instancePath);
    if (missing) {
      missing.push(property);
      continue;
    }
    const list = [property];
    missingByPath.set(error.instancePath, list);
    grouped.push({ ...error, params: { ...error.params, missingProperties: list } });
  }
  return grouped;
}

function describeSchemaError(error: ErrorObject, data: unknown): { path: PathSegment[]; message: string; anchor: 'key' | 'value' } {
  const path = pointerToPath(error.instancePath, data);
  const value = valueAt(data, path);
  const params = error.params as Record<string, unknown>;
  const parent = error.parentSchema as Record<string, unknown> | undefined;
  switch (error.keyword) {
    case 'required': {
      const missing = (params.missingProperties as string[] | undefined) ?? [String(params.missingProperty)];
      return { path, anchor: 'value', message: `missing required propert${missing.length > 1 ? 'ies' : 'y'} ${missing.map((m) => `'${m}'`).join(', ')}` };
    }
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const allowed = Object.keys((parent?.properties as object | undefined) ?? {});
      return { path: [...path, name], anchor: 'key', message: unknownPropertyMessage(name, allowed) };
    }
    case 'type':
      return { path, anchor: 'value', message: `expected ${article(String(params.type))}, got ${describeValue(value)}` };
    case 'enum':
      return { path, anchor: 'value', message: `expected one of ${(params.allowedValues as unknown[]).join(', ')}; got ${describeValue(value)}` };
    case 'const':
      return { path, anchor: 'value', message: `expected ${String(params.allowedValue)}, got ${describeValue(value)}` };
    case 'pattern': {
      const expected = (parent?.['x-expected'] as string | undefined) ?? `text matching ${String(params.pattern)}`;
      return { path, anchor: 'value', message: `expected ${expected}, got ${describeValue(value)}` };
    }
    case 'minItems':
      return { path, anchor: 'value', message: `expected at least ${String(params.limit)} item(s)` };
    case 'minLength':
      return { path, anchor: 'value', message: value === '' ? 'expected a non-empty string' : `expected at least ${String(params.limit)} characters` };
    case 'maxLength':
      return { path, anchor: 'value', message: `expected at most ${String(params.limit)} characters` };
    case 'minProperties':
      return { path, anchor: 'value', message: `expected at least ${String(params.limit)} entr${params.limit === 1 ? 'y' : 'ies'}` };
    case 'maxProperties':
      return { path, anchor: 'value', message: `expected at most ${String(params.limit)} entr${params.limit === 1 ? 'y' : 'ies'}${parent?.['x-expected'] ? ` (${String(parent['x-expected'])})` : ''}` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path, anchor: 'value', message: `expected a number ${String(params.comparison)} ${String(params.limit)}, got ${describeValue(value)}` };
    case 'propertyNames':
      return { path, anchor: 'value', message: `invalid property name '${String(params.propertyName)}'` };
    default:
      return { path, anchor: 'value', message: error.message ?? `does not conform to the schema (${error.keyword})` };
  }
}

/** The message for a misspelt key names the closest allowed key, since that is almost always the intent. */
export function unknownPropertyMessage(name: string, allowed: readonly string[]): string {
  if (name === 'password') {
    return "unknown property 'password': passwords never go in a layout; use passwordEnv (an environment variable) or passwordFile";
  }
  const suggestion = closest(name, allowed);
  const hint = suggestion ? `; did you mean '${suggestion}'?` : allowed.length ? `; expected one of ${allowed.join(', ')}` : '';
  return `unknown property '${name}'${hint}`;
}

export function closest(name: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(name.length / 3));
  const scored = candidates.map((c) => ({ c, d: editDistance(name.toLowerCase(), c.toLowerCase()) })).filter((s) => s.d <= limit);
  const best = Math.min(...scored.map((s) => s.d));
  const tied = scored.filter((s) => s.d === best);
  // With 'lane-3' against 'lane-1' and 'lane-2' no guess is better than another: suggest only a clear winner.
  return tied.length === 1 ? tied[0]!.c : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

function article(type: string): string {
  const words: Record<string, string> = { object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', integer: 'a whole number', boolean: 'true or false', null: 'nothing' };
  return type.split(',').map((t) => words[t] ?? t).join(' or ');
}

function pointerToPath(pointer: string, data: unknown): PathSegment[] {
  if (!pointer) return [];
  const path: PathSegment[] = [];
  let cursor: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const step: PathSegment = Array.isArray(cursor) ? Number(segment) : segment;
    path.push(step);
    cursor = cursor && typeof cursor === 'object' ? (cursor as Record<string, unknown>)[String(step)] : undefined;
  }
  return path;
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let cursor = data;
  for (const segment of path) {
    if (!cursor || typeof cursor !== 'object') return undefined;
    cursor = (cursor as Record<string, unknown>)[String(segment)];
  }
  return cursor;
}
