/**
 * Generated XSD patterns against an independent reference: each pattern is generated as a syntax tree,
 * written out in XSD syntax, and its translation must accept exactly the strings that a small backtracking
 * matcher over the tree accepts (strings drawn from the tree, their mutations, and arbitrary ones).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { xsdPatternRegExp } from '../../drivers/sila2/xsd-pattern.ts';

type Escape = { kind: 'escape'; name: string };
type Part = { kind: 'char'; c: string } | { kind: 'range'; from: string; to: string } | Escape;
interface CharClass {
  negated: boolean;
  parts: Part[];
  minus?: CharClass;
}
type Node =
  | { kind: 'char'; c: string; escaped: boolean }
  | { kind: 'dot' }
  | { kind: 'class'; cls: CharClass }
  | Escape
  | { kind: 'seq'; items: Node[] }
  | { kind: 'alt'; branches: Node[] }
  | { kind: 'group'; body: Node }
  | { kind: 'repeat'; body: Node; min: number; max: number | undefined; written: string };

/** Characters that exercise escapes, classes, categories and blocks: ASCII, Latin-1, Greek, CJK, digits of other scripts, astral. */
const POOL = [...'abzAZ059_-.:^$[]\\(){}|?*+ \t\n\r\f\v', '\u00b7', 'é', 'Ä', 'α', 'Ж', '中', '\u0663', '\u00b2', '€', '\u00a0', '\u2028', '😀', '\u0301', '\ue000', '\u0378', '\u00d7'];

/** XSD's meaning of each escape, written independently of the translator. */
const NAME_START: Array<[number, number]> = [
  [0x3a, 0x3a], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a], [0xc0, 0xd6], [0xd8, 0xf6], [0xf8, 0x2ff], [0x370, 0x37d], [0x37f, 0x1fff],
  [0x200c, 0x200d], [0x2070, 0x218f], [0x2c00, 0x2fef], [0x3001, 0xd7ff], [0xf900, 0xfdcf], [0xfdf0, 0xfffd], [0x10000, 0xeffff],
];
const NAME_EXTRA: Array<[number, number]> = [[0x2d, 0x2e], [0x30, 0x39], [0xb7, 0xb7], [0x300, 0x36f], [0x203f, 0x2040]];
const inRanges = (c: string, ranges: Array<[number, number]>) => ranges.some(([a, b]) => c.codePointAt(0)! >= a && c.codePointAt(0)! <= b);
const category = (name: string) => {
  const re = new RegExp(`^\\p{${name}}$`, 'u');
  return (c: string) => re.test(c);
};
const BLOCKS: Record<string, [number, number]> = {
  BasicLatin: [0x0, 0x7f], 'Latin-1Supplement': [0x80, 0xff], GreekandCoptic: [0x370, 0x3ff], Cyrillic: [0x400, 0x4ff],
  CJKUnifiedIdeographs: [0x4e00, 0x9fff], Emoticons: [0x1f600, 0x1f64f], GeneralPunctuation: [0x2000, 0x206f],
};
const POSITIVE: Record<string, (c: string) => boolean> = {
  s: (c) => c === ' ' || c === '\t' || c === '\n' || c === '\r',
  i: (c) => inRanges(c, NAME_START),
  c: (c) => inRanges(c, NAME_START) || inRanges(c, NAME_EXTRA),
  d: category('Nd'),
  w: (c) => !category('P')(c) && !category('Z')(c) && !category('C')(c),
};
for (const name of ['L', 'Lu', 'Ll', 'M', 'Mn', 'N', 'Nd', 'No', 'P', 'Pc', 'Pd', 'S', 'Sm', 'Sc', 'Z', 'Zs', 'Zl', 'C', 'Cc', 'Co', 'Cn']) {
  POSITIVE[`p{${name}}`] = category(name);
}
for (const [name, range] of Object.entries(BLOCKS)) POSITIVE[`p{Is${name}}`] = (c) => inRanges(c, [range]);
const ESCAPES = Object.keys(POSITIVE).flatMap((name) => [name, /^[a-z]$/.test(name) ? name.toUpperCase() : name.replace(/^p/, 'P')]);

function escapeHolds(name: string, c: string): boolean {
  const positive = POSITIVE[name];
  if (positive) return positive(c);
  const complemented = /^[A-Z]$/.test(name) ? name.toLowerCase() : name.replace(/^P/, 'p');
  return !POSITIVE[complemented]!(c);
}

function classHolds(cls: CharClass, c: string): boolean {
  const cp = c.codePointAt(0)!;
  const inParts = cls.parts.some((part) =>
    part.kind === 'char' ? part.c === c : part.kind === 'range' ? cp >= part.from.codePointAt(0)! && cp <= part.to.codePointAt(0)! : escapeHolds(part.name, c),
  );
  return (cls.negated ? !inParts : inParts) && !(cls.minus && classHolds(cls.minus, c));
}

/** Every position where `node` can end when it starts at `from` (backtracking by sets). */
function ends(node: Node, s: string[], from: number): Set<number> {
  const one = (test: (c: string) => boolean) => (from < s.length && test(s[from]!) ? new Set([from + 1]) : new Set<number>());
  switch (node.kind) {
    case 'char':
      return one((c) => c === node.c);
    case 'dot':
      return one((c) => c !== '\n' && c !== '\r');
    case 'escape':
      return one((c) => escapeHolds(node.name, c));
    case 'class':
      return one((c) => classHolds(node.cls, c));
    case 'group':
      return ends(node.body, s, from);
    case 'alt':
      return new Set(node.branches.flatMap((b) => [...ends(b, s, from)]));
    case 'seq': {
      let at = new Set([from]);
      for (const item of node.items) at = new Set([...at].flatMap((p) => [...ends(item, s, p)]));
      return at;
    }
    case 'repeat': {
      const found = new Set<number>(node.min === 0 ? [from] : []);
      let at = new Set([from]);
      const limit = node.max ?? node.min + s.length + 1;
      for (let k = 1; k <= limit && at.size; k++) {
        at = new Set([...at].flatMap((p) => [...ends(node.body, s, p)]));
        if (k >= node.min) for (const p of at) found.add(p);
      }
      return found;
    }
  }
}

const OUTSIDE_ESCAPES = new Set([...'.\\?*+{}()|[]']);
const writeChar = (c: string, escaped: boolean) =>
  c === '\n' ? (escaped ? '\\n' : c) : c === '\r' ? (escaped ? '\\r' : c) : c === '\t' ? (escaped ? '\\t' : c) : OUTSIDE_ESCAPES.has(c) || (escaped && (c === '^' || c === '-')) ? `\\${c}` : c;
const writeClassChar = (c: string) => ('[]\\^-.?*+{}()|'.includes(c) ? `\\${c}` : c === '\n' ? '\\n' : c);
const writeClass = (cls: CharClass): string =>
  `[${cls.negated ? '^' : ''}${cls.parts
    .map((p) => (p.kind === 'char' ? writeClassChar(p.c) : p.kind === 'range' ? `${writeClassChar(p.from)}-${writeClassChar(p.to)}` : `\\${p.name}`))
    .join('')}${cls.minus ? `-${writeClass(cls.minus)}` : ''}]`;

/** The node in XSD syntax; a repeated or alternating part is put in parentheses where XSD needs them. */
function write(node: Node): string {
  switch (node.kind) {
    case 'char':
      return writeChar(node.c, node.escaped);
    case 'dot':
      return '.';
    case 'escape':
      return `\\${node.name}`;
    case 'class':
      return writeClass(node.cls);
    case 'group':
      return `(${write(node.body)})`;
    case 'alt':
      return node.branches.map(write).join('|');
    case 'seq':
      return node.items.map((item) => (item.kind === 'alt' ? `(${write(item)})` : write(item))).join('');
    case 'repeat': {
      const atomic = ['char', 'dot', 'escape', 'class', 'group'].includes(node.body.kind);
      return `${atomic ? write(node.body) : `(${write(node.body)})`}${node.written}`;
    }
  }
}

const char = fc.constantFrom(...POOL);
const escape = fc.constantFrom(...ESCAPES).map((name): Escape => ({ kind: 'escape', name }));
const part: fc.Arbitrary<Part> = fc.oneof(
  char.map((c): Part => ({ kind: 'char', c })),
  fc.tuple(char, char).map(([a, b]): Part => (a.codePointAt(0)! <= b.codePointAt(0)! ? { kind: 'range', from: a, to: b } : { kind: 'range', from: b, to: a })),
  escape,
);
const charClass: fc.Arbitrary<CharClass> = fc.letrec<{ cls: CharClass }>((tie) => ({
  cls: fc.record({ negated: fc.boolean(), parts: fc.array(part, { minLength: 1, maxLength: 4 }), minus: fc.option(tie('cls'), { nil: undefined, freq: 3, depthSize: 'small' }) }),
})).cls;
const quantifier = fc.oneof(
  fc.constantFrom(['?', 0, 1], ['*', 0, undefined], ['+', 1, undefined]),
  fc.nat(3).map((n) => [`{${n}}`, n, n]),
  fc.nat(3).map((n) => [`{${n},}`, n, undefined]),
  fc.tuple(fc.nat(2), fc.nat(2)).map(([n, extra]) => [`{${n},${n + extra}}`, n, n + extra]),
) as fc.Arbitrary<[string, number, number | undefined]>;

const { node: patternTree } = fc.letrec<{ node: Node; atom: Node }>((tie) => ({
  atom: fc.oneof(
    { depthSize: 'small' },
    fc.record({ kind: fc.constant('char' as const), c: char, escaped: fc.boolean() }),
    fc.constant({ kind: 'dot' as const }),
    escape,
    charClass.map((cls): Node => ({ kind: 'class', cls })),
    tie('node').map((body): Node => ({ kind: 'group', body })),
  ),
  node: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    tie('atom'),
    fc.array(tie('node'), { maxLength: 4 }).map((items): Node => ({ kind: 'seq', items })),
    fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map((branches): Node => ({ kind: 'alt', branches })),
    fc.tuple(tie('node'), quantifier).map(([body, [written, min, max]]): Node => ({ kind: 'repeat', body, min, max, written })),
  ),
}));

/** A string the tree matches, chosen with `pick`, or undefined where the generator runs into an empty choice. */
function sample(node: Node, pick: (n: number) => number): string[] | undefined {
  const fromPool = (test: (c: string) => boolean) => {
    const candidates = POOL.filter(test);
    return candidates.length ? [candidates[pick(candidates.length)]!] : undefined;
  };
  switch (node.kind) {
    case 'char':
      return [node.c];
    case 'dot':
      return fromPool((c) => c !== '\n' && c !== '\r');
    case 'escape':
      return fromPool((c) => escapeHolds(node.name, c));
    case 'class':
      return fromPool((c) => classHolds(node.cls, c));
    case 'group':
      return sample(node.body, pick);
    case 'alt':
      return sample(node.branches[pick(node.branches.length)]!, pick);
    case 'seq': {
      const out: string[] = [];
      for (const item of node.items) {
        const piece = sample(item, pick);
        if (!piece) return undefined;
        out.push(...piece);
      }
      return out;
    }
    case 'repeat': {
      const times = node.min + pick((node.max ?? node.min + 2) - node.min + 1);
      const out: string[] = [];
      for (let k = 0; k < times; k++) {
        const piece = sample(node.body, pick);
        if (!piece) return undefined;
        out.push(...piece);
      }
      return out;
    }
  }
}

const mutation = fc.tuple(fc.constantFrom('insert', 'delete', 'replace'), fc.nat(), char);

describe('generated XSD patterns', () => {
  it('as a single escape or class, accept exactly their characters of the whole pool', () => {
    const single = fc.oneof(escape, charClass.map((cls): Node => ({ kind: 'class', cls })));
    fc.assert(
      fc.property(single, fc.nat(3), (node, times) => {
        const pattern = `${write(node)}{${times}}`;
        const re = xsdPatternRegExp(pattern);
        for (const c of POOL) {
          const expected = node.kind === 'escape' ? escapeHolds(node.name, c) : classHolds((node as { cls: CharClass }).cls, c);
          expect(re.test(c.repeat(times)), `pattern ${JSON.stringify(pattern)} on ${JSON.stringify(c.repeat(times))}`).toBe(expected || times === 0);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('accept exactly what a reference matcher of the pattern accepts', () => {
    fc.assert(
      fc.property(patternTree, fc.array(fc.nat(), { minLength: 8, maxLength: 8 }), fc.array(mutation, { maxLength: 3 }), fc.array(fc.array(char, { maxLength: 6 }), { maxLength: 4 }), (tree, choices, mutations, arbitrary) => {
        const pattern = write(tree);
        const re = xsdPatternRegExp(pattern);
        let next = 0;
        const pick = (n: number) => choices[next++ % choices.length]! % n;
        const drawn = sample(tree, pick);
        const candidates: string[][] = [...arbitrary];
        if (drawn) {
          candidates.push(drawn);
          for (const [how, at, c] of mutations) {
            const mutated = [...drawn];
            const i = drawn.length ? at % (drawn.length + (how === 'insert' ? 1 : 0)) : 0;
            if (how === 'insert') mutated.splice(i, 0, c);
            else if (drawn.length) mutated.splice(i, 1, ...(how === 'replace' ? [c] : []));
            candidates.push(mutated);
          }
        }
        for (const chars of candidates) {
          const expected = ends(tree, chars, 0).has(chars.length);
          expect(re.test(chars.join('')), `pattern ${JSON.stringify(pattern)} on ${JSON.stringify(chars.join(''))}`).toBe(expected);
        }
        if (drawn) expect(re.test(drawn.join('')), `pattern ${JSON.stringify(pattern)} on its own sample ${JSON.stringify(drawn.join(''))}`).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});
