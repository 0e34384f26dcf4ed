/**
 * Dependencies run one way: config (YAML languages, catalogue, state model) -> drivers (clock, module
 * interface, SiLA 2, OPC UA) -> orchestrator -> cli (and web/, the HMI, beside it), each importing only its own layer or lower ones. The
 * simulators (modules/simulators/) stand beside: they use config and drivers, and only the cli (sim,
 * run --sim, demo), tests and benchmarks use them, so a run against real devices loads no simulator code.
 * No cycles at all, type-only and dynamic imports included: a cycle makes its files one unit.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cycles, importGraph, staticClosure, type ImportEdge } from './import-graph.ts';

const FOLDERS = ['config', 'drivers', 'modules', 'orchestrator', 'cli', 'web'];
const RANKED = ['config', 'drivers', 'orchestrator', 'cli'] as const;
type Layer = (typeof RANKED)[number] | 'simulators';

function layerOf(file: string): Layer | undefined {
  if (file.startsWith('modules/simulators/')) return 'simulators';
  const top = file.split('/')[0];
  // web/ (the HMI's server and app, `workcell serve`) sits beside cli/: the same layer.
  if (top === 'web') return 'cli';
  return RANKED.find((layer) => layer === top);
}

/** The rule an import breaks, or undefined when it keeps to the layers. */
function brokenRule(edge: ImportEdge): string | undefined {
  const from = layerOf(edge.from);
  const to = layerOf(edge.to);
  if (!from) return `${edge.from} is in no layer (config/, drivers/, modules/simulators/, orchestrator/, cli/ and web/)`;
  if (!to) return `production code imports only production code: ${edge.to} is in no layer`;
  if (to === 'simulators' && from !== 'simulators' && from !== 'cli') return `only the cli (sim, run --sim, demo), tests and benchmarks load simulators; ${from}/ must take a simulation from its caller`;
  if (from === 'simulators') return to === 'simulators' || to === 'config' || to === 'drivers' ? undefined : `simulators depend only on config, drivers and each other, not on ${to}/`;
  if (to === 'simulators') return undefined;
  return RANKED.indexOf(to) <= RANKED.indexOf(from) ? undefined : `${from}/ imports only its own layer or a lower one (${RANKED.join(' -> ')}), not ${to}/`;
}

const describeEdge = (edge: ImportEdge) => `${edge.from}:${edge.line} imports '${edge.specifier}' (${edge.kind})`;

describe('the layers of Workcell', () => {
  const graph = importGraph(FOLDERS);

  it('reads every import the checks below rely on', () => {
    expect(graph.unresolved).toEqual([]);
    expect(graph.files.length).toBeGreaterThan(100);
  });

  it('has no import cycles', () => {
    // Each step of a cycle with the import that makes it: `a.ts:12 './b.ts' (static) -> b.ts:3 ...`.
    const step = (from: string, to: string) => {
      const edge = graph.edges.find((e) => e.from === from && e.to === to)!;
      return `${from}:${edge.line} '${edge.specifier}' (${edge.kind})`;
    };
    const found = cycles(graph).map((cycle) => `no file may depend on itself: ${cycle.slice(0, -1).map((file, i) => step(file, cycle[i + 1]!)).join(' -> ')} -> ${cycle[0]}`);
    expect(found).toEqual([]);
  });

  it('imports only the same or a lower layer, and simulators only from the cli', () => {
    const broken = graph.edges.flatMap((edge) => {
      const rule = brokenRule(edge);
      return rule ? [`${describeEdge(edge)}: ${rule}`] : [];
    });
    expect(broken).toEqual([]);
  });

  it('puts every file of modules/ with code in the simulators (the catalogue and state model are config)', () => {
    expect(graph.files.filter((file) => !layerOf(file))).toEqual([]);
  });

  // What a file loads before any import() runs: `workcell run` without --sim must not carry simulator code.
  it.each(['cli/main.ts', 'cli/run.ts', 'orchestrator/session.ts'])('loads no simulator code when %s is loaded', (entry) => {
    expect(graph.files, `${entry} is gone: point this check at where \`workcell run\` lives now`).toContain(entry);
    const loaded = [...staticClosure(graph, entry).values()].filter((chain) => layerOf(chain[chain.length - 1]!) === 'simulators');
    expect(loaded.map((chain) => `${chain.join(' -> ')}: load simulators with import() behind --sim`)).toEqual([]);
  });
});

describe('the import graph the layer checks read', () => {
  function tree(files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), 'workcell-imports-'));
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, file)), { recursive: true });
      writeFileSync(join(root, file), text);
    }
    return root;
  }

  it('sees static, type-only, re-exported and dynamic imports, and import() types', () => {
    const root = tree({
      'a/one.ts': "import { x } from './two.ts';\nimport type { T } from '../b/three.ts';\nexport { y } from './four.ts';\nexport type U = import('./five.ts').V;\nconst later = () => import('../b/six.ts');\nimport 'node:fs';\n",
      'a/two.ts': 'export const x = 1;\n',
      'a/four.ts': 'export const y = 1;\n',
      'a/five.ts': 'export type V = 1;\n',
      'b/three.ts': 'export type T = 1;\n',
      'b/six.ts': 'export {};\n',
    });
    const edges = importGraph(['a', 'b'], root).edges.map((e) => `${e.from}:${e.line} -> ${e.to} ${e.kind}`);
    expect(edges.sort()).toEqual(['a/one.ts:1 -> a/two.ts static', 'a/one.ts:2 -> b/three.ts type', 'a/one.ts:3 -> a/four.ts static', 'a/one.ts:4 -> a/five.ts type', 'a/one.ts:5 -> b/six.ts dynamic']);
  });

  it('reports an import() it cannot follow and a specifier that names no file', () => {
    const root = tree({ 'a/one.ts': "const name = './two.ts';\nawait import(name);\nimport { z } from './missing.ts';\n" });
    expect(importGraph(['a'], root).unresolved).toEqual([
      'a/one.ts:2: import() of a computed specifier hides the dependency from this check; import a literal path',
      "a/one.ts:3: './missing.ts' names no file",
    ]);
  });

  it('names cycles as paths, every file on a cycle on one of them, and none in a graph without', () => {
    const root = tree({
      'a/one.ts': "import './two.ts';\n",
      'a/two.ts': "import type { T } from './three.ts';\n",
      'a/three.ts': "export type T = 1;\nconst back = () => import('./one.ts');\nimport './four.ts';\n",
      'a/four.ts': "import './two.ts';\n",
      'a/five.ts': "import './one.ts';\n",
      'a/self.ts': "import './self.ts';\n",
    });
    expect(cycles(importGraph(['a'], root)).map((c) => c.join(' -> ')).sort()).toEqual([
      'a/four.ts -> a/two.ts -> a/three.ts -> a/four.ts',
      'a/one.ts -> a/two.ts -> a/three.ts -> a/one.ts',
      'a/self.ts -> a/self.ts',
    ]);
    expect(cycles(importGraph(['a'], tree({ 'a/one.ts': "import './two.ts';\n", 'a/two.ts': 'export {};\n' })))).toEqual([]);
  });

  it('follows only static imports for what loading a file loads', () => {
    const root = tree({ 'a/one.ts': "import './two.ts';\nimport type { T } from './three.ts';\nconst later = () => import('./four.ts');\n", 'a/two.ts': "import './five.ts';\n", 'a/three.ts': 'export type T = 1;\n', 'a/four.ts': '', 'a/five.ts': '' });
    expect([...staticClosure(importGraph(['a'], root), 'a/one.ts').values()]).toEqual([['a/one.ts'], ['a/one.ts', 'a/two.ts'], ['a/one.ts', 'a/two.ts', 'a/five.ts']]);
  });
});
