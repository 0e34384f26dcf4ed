/**
 * The import graph of Workcell's own code, read with the TypeScript parser: every `import`, `export ... from`,
 * `import type`, `import('...')` call and `import('...').T` type names an edge. A dependency this cannot see
 * (an `import()` of a computed specifier) is reported as such rather than skipped.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export interface ImportEdge {
  /** Repository-relative, with '/' separators. */
  from: string;
  to: string;
  specifier: string;
  kind: 'static' | 'dynamic' | 'type';
  line: number;
}

export interface ImportGraph {
  files: string[];
  edges: ImportEdge[];
  /** `file:line: why` for imports whose target cannot be known or found. */
  unresolved: string[];
}

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function tsFilesUnder(root: string, folder: string): string[] {
  const absolute = join(root, folder);
  if (!existsSync(absolute)) return [];
  return readdirSync(absolute).flatMap((name) => {
    const path = join(absolute, name);
    if (statSync(path).isDirectory()) return tsFilesUnder(root, join(folder, name));
    return (name.endsWith('.ts') || name.endsWith('.tsx')) && !name.endsWith('.d.ts') ? [relativePath(root, path)] : [];
  });
}

function relativePath(root: string, absolute: string): string {
  return relative(root, absolute).split(sep).join('/');
}

/** A relative specifier as the file it names (Workcell imports with the .ts or .tsx extension; .js names the .ts beside it). */
function resolveSpecifier(root: string, fromFile: string, specifier: string): string | undefined {
  const target = resolve(root, dirname(fromFile), specifier);
  const candidates = [target, target.replace(/\.js$/, '.ts'), `${target}.ts`, join(target, 'index.ts')];
  const found = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  return found && relativePath(root, found);
}

/** The .ts and .tsx files under `folders` of `root` and the imports between them (and to any other file they name). */
export function importGraph(folders: readonly string[], root = ROOT): ImportGraph {
  const files = folders.flatMap((folder) => tsFilesUnder(root, folder)).sort();
  const edges: ImportEdge[] = [];
  const unresolved: string[] = [];
  for (const file of files) {
    const source = ts.createSourceFile(file, readFileSync(join(root, file), 'utf8'), ts.ScriptTarget.Latest, true);
    const lineOf = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    const add = (specifierNode: ts.Node, kind: ImportEdge['kind'], at: ts.Node) => {
      if (!ts.isStringLiteralLike(specifierNode)) {
        unresolved.push(`${file}:${lineOf(at)}: import() of a computed specifier hides the dependency from this check; import a literal path`);
        return;
      }
      const specifier = specifierNode.text;
      if (!specifier.startsWith('.') && !specifier.startsWith('/')) return; // a package or node: built-in
      const to = resolveSpecifier(root, file, specifier);
      if (!to) unresolved.push(`${file}:${lineOf(at)}: '${specifier}' names no file`);
      else if (to.endsWith('.ts') || to.endsWith('.tsx')) edges.push({ from: file, to, specifier, kind, line: lineOf(at) });
    };
    const visit = (node: ts.Node): void => {
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
        const typeOnly = ts.isImportDeclaration(node) ? node.importClause?.isTypeOnly === true : node.isTypeOnly;
        add(node.moduleSpecifier, typeOnly ? 'type' : 'static', node);
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) {
        add(node.arguments[0], 'dynamic', node);
      } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
        add(node.argument.literal, 'type', node);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return { files, edges, unresolved };
}

/**
 * Cycles as paths that start and end at the same file, enough of them that every file on a cycle is on one
 * reported: for each file not yet on a reported cycle, the shortest cycle through it. Strongly connected
 * components first, so a file off every cycle costs nothing.
 */
export function cycles(graph: ImportGraph): string[][] {
  const next = new Map<string, string[]>();
  for (const edge of graph.edges) {
    const targets = next.get(edge.from) ?? [];
    if (!targets.includes(edge.to)) targets.push(edge.to);
    next.set(edge.from, targets);
  }
  const found = new Map<string, string[]>();
  for (const component of stronglyConnected(graph.files, next)) {
    const members = new Set(component);
    const covered = new Set<string>();
    for (const start of component) {
      if (covered.has(start)) continue;
      const cycle = shortestCycleThrough(start, next, members);
      if (!cycle) continue;
      for (const file of cycle) covered.add(file);
      const ring = cycle.slice(0, -1);
      const first = ring.indexOf([...ring].sort()[0]!);
      const canonical = [...ring.slice(first), ...ring.slice(0, first)];
      found.set(canonical.join(' -> '), [...canonical, canonical[0]!]);
    }
  }
  return [...found.values()];
}

function shortestCycleThrough(start: string, next: Map<string, string[]>, within: Set<string>): string[] | undefined {
  const previous = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const file = queue[i]!;
    for (const target of next.get(file) ?? []) {
      if (!within.has(target)) continue;
      if (target === start) {
        const path = [start];
        for (let at = file; at !== start; at = previous.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!previous.has(target) && target !== start) {
        previous.set(target, file);
        queue.push(target);
      }
    }
  }
  return undefined;
}

/** Tarjan's algorithm, iterative (the graph is a few hundred files deep at most, but recursion depth is not ours to spend). */
function stronglyConnected(nodes: readonly string[], next: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: Array<{ node: string; edge: number }> = [{ node: root, edge: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const targets = next.get(frame.node) ?? [];
      if (frame.edge < targets.length) {
        const target = targets[frame.edge++]!;
        if (!index.has(target)) {
          index.set(target, counter);
          low.set(target, counter++);
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, edge: 0 });
        } else if (onStack.has(target)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(target)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        const selfLoop = (next.get(frame.node) ?? []).includes(frame.node);
        if (component.length > 1 || selfLoop) components.push(component.sort());
      }
    }
  }
  return components;
}

/**
 * Files that loading `entry` loads before any import() runs, each with the chain of static imports that
 * reaches it (type-only imports are erased, so they load nothing).
 */
export function staticClosure(graph: ImportGraph, entry: string): Map<string, string[]> {
  const via = new Map<string, string[]>([[entry, [entry]]]);
  const queue = [entry];
  for (let i = 0; i < queue.length; i++) {
    const file = queue[i]!;
    for (const edge of graph.edges) {
      if (edge.from !== file || edge.kind !== 'static' || via.has(edge.to)) continue;
      via.set(edge.to, [...via.get(file)!, edge.to]);
      queue.push(edge.to);
    }
  }
  return via;
}
