/**
 * `--add MODULE_KIND=N`: the layout with N more modules of a kind, each a copy of the first module of
 * that kind (same lanes, zone, vendor, line clearance) with an id and endpoint of its own, and every
 * robot arm that reaches the original reaching the copy the same way. The YAML is edited, not the
 * model, so the copy is checked as any layout file is.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { isMap, isSeq, parseDocument, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { PlanInputError } from './arrivals.ts';

export interface Addition {
  /** A module kind (its first module is copied) or a module id (that module is copied). */
  kind: string;
  count: number;
}

/** `electroporator=1` as given to --add. */
export function parseAddition(text: string): Addition {
  const match = /^\s*([a-z][a-z0-9-]*)\s*=\s*(\d+)\s*$/.exec(text);
  if (!match || Number(match[2]) < 1) throw new PlanInputError(`--add '${text}' does not parse: give MODULE_KIND=N, such as electroporator=1 (N at least 1)`);
  return { kind: match[1]!, count: Number(match[2]) };
}

export interface ExtendedLayout {
  text: string;
  added: Array<{ kind: string; ids: string[] }>;
}

/** The layout text with the additions; refused when the layout has no module of a kind to copy. */
export function addModules(layoutText: string, layoutFile: string, additions: readonly Addition[]): ExtendedLayout {
  const doc = parseDocument(layoutText);
  const modules = doc.get('modules');
  if (!isSeq(modules)) throw new PlanInputError(`${layoutFile}: no modules to copy for --add`);
  const items = modules.items.filter(isMap) as YAMLMap[];
  const ids = new Set(items.map((m) => String(m.get('id'))));
  let nextPort = Math.max(0, ...[...layoutText.matchAll(/(?:port: |:)(\d{4,5})\b/g)].map((m) => Number(m[1]))) + 1;
  const added: ExtendedLayout['added'] = [];
  for (const { kind, count } of additions) {
    // A module of one lane is copied into that lane: naming the module picks the lane.
    const template = items.find((m) => m.get('kind') === kind) ?? items.find((m) => m.get('id') === kind);
    if (!template) {
      const kinds = [...new Set(items.map((m) => String(m.get('kind'))))].join(', ');
      throw new PlanInputError(`--add ${kind}=${count}: layout ${layoutFile} has no ${kind} to copy (its kinds: ${kinds}; or name a module)`);
    }
    const templateId = String(template.get('id'));
    const newIds: string[] = [];
    for (let n = 2; newIds.length < count; n++) {
      const id = `${templateId}-${n}`;
      if (ids.has(id)) continue;
      ids.add(id);
      newIds.push(id);
      const copy = doc.createNode(renamed(template.toJSON() as Record<string, unknown>, templateId, id, nextPort++)) as YAMLMap;
      modules.items.push(copy);
      reachCopy(doc, templateId, id);
    }
    added.push({ kind: String(template.get('kind')), ids: newIds });
  }
  return { text: doc.toString(), added };
}

/** The module's data with the new id, its endpoint on a port of its own, its CA file named after it. */
function renamed(module: Record<string, unknown>, from: string, to: string, port: number): Record<string, unknown> {
  const json = JSON.stringify({ ...module, id: to });
  const withFiles = json.replaceAll(`/${from}-`, `/${to}-`);
  const copy = JSON.parse(withFiles) as { connection?: { sila2?: { port?: number }; opcua?: { endpoint?: string } } };
  if (copy.connection?.sila2?.port !== undefined) copy.connection.sila2.port = port;
  if (copy.connection?.opcua?.endpoint) copy.connection.opcua.endpoint = copy.connection.opcua.endpoint.replace(/:\d+(\/|$)/, `:${port}$1`);
  return copy as Record<string, unknown>;
}

/** Every arm reaching a position of the original reaches the copy's, with the same transfer times. */
function reachCopy(doc: Document, from: string, to: string): void {
  const modules = doc.get('modules') as YAMLSeq;
  for (const arm of modules.items.filter(isMap) as YAMLMap[]) {
    const reach = arm.get('reach');
    if (!isMap(reach)) continue;
    const positions = reach.get('positions');
    if (!isSeq(positions)) continue;
    const ofOriginal = (positions.toJSON() as unknown[]).map(String).filter((p) => p.startsWith(`${from}.`));
    for (const position of ofOriginal) positions.add(doc.createNode(`${to}${position.slice(from.length)}`));
    const times = reach.get('transferTimes');
    if (!isSeq(times)) continue;
    const swap = (place: unknown) => (typeof place === 'string' && place.startsWith(`${from}.`) ? `${to}${place.slice(from.length)}` : place);
    for (const time of [...times.items]) {
      if (!isMap(time)) continue;
      const t = time.toJSON() as { from: unknown; to: unknown; time: unknown };
      if (swap(t.from) !== t.from || swap(t.to) !== t.to) times.add(doc.createNode({ from: swap(t.from), to: swap(t.to), time: t.time }));
    }
  }
}

/** Writes the extended layout to a directory of its own (the user's file is never touched); returns its path. */
export function writeExtendedLayout(layoutFile: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'workcell-plan-')), basename(layoutFile));
  writeFileSync(file, text);
  return file;
}
