/**
 * A YAML file kept together with its syntax tree, so that every finding can point at the node it is
 * about: "layouts/two-lane.yaml:42:11: ...".
 */
import { readFileSync } from 'node:fs';
import { fileErrorReason } from './file-errors.ts';
import { printable } from './printable.ts';
import { Composer, LineCounter, Parser, visit, isCollection, isMap, isSeq, isPair, isScalar, isNode, type CST, type Document, type Node, type Pair, type YAMLMap, YAMLParseError } from 'yaml';

export type PathSegment = string | number;
export type YamlPath = readonly PathSegment[];

export interface Position {
  line: number;
  col: number;
}

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  severity: Severity;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.col}: ` : '';
  return `${where}${d.severity === 'warning' ? 'warning: ' : ''}${d.message}`;
}

/** File order, then position: the order a reader walks the files in. */
export function sortDiagnostics(diagnostics: Diagnostic[], fileOrder: readonly string[]): Diagnostic[] {
  const rank = (file: string) => {
    const i = fileOrder.indexOf(file);
    return i < 0 ? fileOrder.length : i;
  };
  return [...diagnostics].sort((a, b) => rank(a.file) - rank(b.file) || a.line - b.line || a.col - b.col);
}

/** Whether a finding is about the key of a mapping entry (e.g. an unknown property) or its value. */
export type Anchor = 'value' | 'key';

export class YamlSource {
  readonly diagnostics: Diagnostic[] = [];
  /** Plain data of the document; undefined when the YAML did not parse. */
  readonly data: unknown;
  private readonly lineCounter = new LineCounter();
  private readonly doc: Document.Parsed | undefined;

  constructor(readonly file: string, readonly text: string) {
    let doc: Document.Parsed | undefined;
    try {
      doc = this.parse(text);
    } catch (error) {
      this.report({ line: 1, col: 1 }, `cannot parse YAML: ${(error as Error).message}`);
    }
    this.doc = doc;
    if (!doc) return;
    const reportedOffsets = new Set<number>();
    for (const error of doc.errors) {
      const offset = error.code === 'MISSING_CHAR' ? openingQuoteOffset(text, error.pos[0], error.message) ?? error.pos[0] : error.pos[0];
      // yaml often reports one mistake twice at the same place; the first message is the useful one.
      if (reportedOffsets.has(offset)) continue;
      reportedOffsets.add(offset);
      this.report(this.positionOfOffset(offset), yamlErrorMessage(error.code, error.message));
    }
    for (const warning of doc.warnings) this.report(this.positionOfOffset(warning.pos[0]), warning.message, 'warning');
    if (doc.errors.length > 0) return;
    let badKeys = 0;
    visit(doc, {
      Pair: (_, pair) => {
        if (isCollection(pair.key)) {
          badKeys++;
          this.report(this.positionOfOffset(pair.key.range?.[0] ?? 0), 'a key must be a plain value, not a mapping or a list');
        }
      },
      // yaml's own check compares each key with every key before it: quadratic in a mapping's size.
      Map: (_, map) => {
        const seen = new Set<string>();
        for (const pair of map.items) {
          if (!isScalar(pair.key)) continue;
          const key = `${typeof pair.key.value}:${String(pair.key.value)}`;
          if (seen.has(key)) {
            badKeys++;
            this.report(this.positionOfOffset(pair.key.range?.[0] ?? 0), yamlErrorMessage('DUPLICATE_KEY', ''));
          }
          seen.add(key);
        }
      },
    });
    if (badKeys > 0) return;
    try {
      // maxAliasCount guards against alias bombs ("billion laughs") in untrusted files.
      this.data = doc.toJS({ maxAliasCount: 1000 });
    } catch (error) {
      this.report({ line: 1, col: 1 }, `cannot read YAML: ${(error as Error).message}`);
    }
  }

  /**
   * Parses the one document of `text`. The syntax tree is built without recursion, so its depth is
   * checked before yaml's recursive composer could exhaust the stack on a hostile file.
   */
  private parse(text: string): Document.Parsed | undefined {
    const tokens = [...new Parser(this.lineCounter.addNewLine).parse(text)];
    const tooDeep = firstTooDeep(tokens);
    if (tooDeep !== undefined) {
      this.report(this.positionOfOffset(tooDeep), `nested more than ${MAX_DEPTH} levels deep; a layout or schedule needs far fewer`);
      return undefined;
    }
    let doc: Document.Parsed | undefined;
    const composer = new Composer({ prettyErrors: false, uniqueKeys: false, strict: true });
    for (const composed of composer.compose(tokens, true, text.length)) {
      if (!doc) doc = composed;
      else {
        doc.errors.push(new YAMLParseError([composed.range[0], composed.range[1]], 'MULTIPLE_DOCS', 'more than one document'));
        break;
      }
    }
    return doc;
  }

  static read(file: string): YamlSource {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const source = new YamlSource(file, '');
      source.diagnostics.length = 0;
      // No line or column: the file itself could not be read.
      source.report({ line: 0, col: 0 }, `cannot read ${file}: ${fileErrorReason(error as NodeJS.ErrnoException)}`);
      return source;
    }
    return new YamlSource(file, text);
  }

  get parsed(): boolean {
    return this.data !== undefined && !this.diagnostics.some((d) => d.severity === 'error');
  }

  report(at: Position, message: string, severity: Severity = 'error'): void {
    // One finding is one line: values quoted into a message (a multi-line key, say) are folded, and
    // what else a terminal would act on (an escape, a direction override) is shown escaped.
    this.diagnostics.push({ file: this.file, line: at.line, col: at.col, severity, message: printable(message.replace(/\s*[\r\n]+\s*/g, ' ')) });
  }

  /** Reports at the node found at `path`, or at the nearest ancestor that exists. */
  reportAt(path: YamlPath, message: string, anchor: Anchor = 'value', severity: Severity = 'error'): void {
    this.report(this.positionOf(path, anchor), message, severity);
  }

  positionOf(path: YamlPath, anchor: Anchor = 'value'): Position {
    const node = this.nodeAt(path, anchor);
    const offset = node?.range?.[0] ?? 0;
    return this.positionOfOffset(offset);
  }

  private positionOfOffset(offset: number): Position {
    const { line, col } = this.lineCounter.linePos(offset);
    return { line: Math.max(1, line), col: Math.max(1, col) };
  }

  /** Walks the syntax tree along `path`; stops at the deepest node that exists. */
  private nodeAt(path: YamlPath, anchor: Anchor): Node | undefined {
    let node: unknown = this.doc?.contents ?? undefined;
    let found: Node | undefined = isNode(node) ? node : undefined;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i]!;
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = pairOf(node, String(segment));
        if (!pair) return found;
        if (last && anchor === 'key' && isNode(pair.key)) return pair.key;
        node = pair.value;
        if (isNode(node)) found = node;
        else if (isNode(pair.key)) return pair.key;
      } else if (isSeq(node) && typeof segment === 'number') {
        node = node.items[segment];
        if (!isNode(node)) return found;
        found = node;
      } else {
        return found;
      }
    }
    return found;
  }
}

/** Far beyond any real layout or schedule (they nest about 8 deep), far below what exhausts the stack. */
export const MAX_DEPTH = 100;

/** The offset of the first syntax node nested deeper than MAX_DEPTH, walking the tree without recursion. */
function firstTooDeep(tokens: readonly CST.Token[]): number | undefined {
  const stack: Array<{ token: CST.Token | undefined; depth: number }> = tokens.map((token) => ({ token, depth: 0 }));
  while (stack.length > 0) {
    const { token, depth } = stack.pop()!;
    if (!token) continue;
    if (depth > MAX_DEPTH) return token.offset;
    if (token.type === 'document') stack.push({ token: token.value, depth });
    else if (token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection') {
      for (const item of token.items as Array<{ key?: CST.Token | null; value?: CST.Token }>) {
        if (item.key) stack.push({ token: item.key, depth: depth + 1 });
        if (item.value) stack.push({ token: item.value, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

/** Pairs of a mapping by key, so that finding the node of each of many findings stays linear. */
const pairsByKey = new WeakMap<YAMLMap, Map<string, Pair>>();

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  let index = pairsByKey.get(map);
  if (!index) {
    index = new Map();
    for (const pair of map.items as Pair[]) {
      const name = scalarKey(pair.key);
      if (name !== undefined && !index.has(name)) index.set(name, pair);
    }
    pairsByKey.set(map, index);
  }
  return index.get(key);
}

function scalarKey(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  if (isPair(key)) return undefined;
  return typeof key === 'string' ? key : undefined;
}

/** yaml's messages are written for programmers; these say what the author should write instead. */
function yamlErrorMessage(code: string, message: string): string {
  const plain = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  switch (code) {
    case 'TAB_AS_INDENT':
      return 'a tab is used for indentation; YAML expects spaces';
    case 'DUPLICATE_KEY':
      return 'duplicate key; each key may appear once in a mapping';
    case 'MULTIPLE_DOCS':
      return 'more than one YAML document ("---"); expected one document per file';
    case 'MISSING_CHAR':
      return /quote/.test(plain) ? 'unterminated string: the quote opened here is never closed' : `${plain}; expected the collection to be closed`;
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
      return "bad indentation or a missing ':'; keys of one mapping start at the same column, each on its own line";
    case 'BAD_INDENT':
      return `bad indentation: ${plain}`;
    default:
      return `invalid YAML: ${plain}`;
  }
}

/** Where the unclosed quoted string starts: the last quote before `end` that opens a value. */
function openingQuoteOffset(text: string, end: number, message: string): number | undefined {
  const quote = /'quote|single quote/i.test(message) ? "'" : '"';
  for (let i = Math.min(end, text.length) - 1; i >= 0; i--) {
    if (text[i] !== quote) continue;
    const before = text.slice(0, i).trimEnd();
    if (before === '' || /[:\-\[{,]$/.test(before)) return i;
  }
  return undefined;
}
