/**
 * XML Schema regular expressions (XSD 1.1 Part 2, appendix G), the language of SiLA 2 <Pattern> constraints,
 * translated into JavaScript RegExps in 'u' mode. The two languages differ where it matters: an XSD pattern
 * matches the whole value, `^` and `$` are ordinary characters, `\d` and `\w` are Unicode classes, `\i` and
 * `\c` are XML name characters, `\p{IsBasicLatin}` names a Unicode block, `[a-z-[aeiou]]` subtracts one class
 * from another, and there are no lazy quantifiers, back-references, lookarounds, `(?:` groups or `\b`.
 * Every class is rendered as one JavaScript class, or as a lookahead-guarded class for a subtraction, so it
 * still matches exactly one character and takes any quantifier.
 */
import { FORMER_BLOCK_NAMES, UNICODE_BLOCKS } from './unicode-blocks.ts';

export class XsdPatternError extends Error {
  /** `column` counts characters (code points) of the pattern from 1. */
  constructor(readonly pattern: string, readonly column: number, readonly detail: string) {
    super(`invalid XML Schema pattern at column ${column}: ${detail}`);
    this.name = 'XsdPatternError';
  }
}

export interface TranslatedPattern {
  /** Matches a whole value exactly when the XSD pattern does. */
  regExp: RegExp;
  /** What a reader of the pattern should know although it is valid, e.g. an unknown block name. */
  warnings: string[];
}

type Range = readonly [first: number, last: number];

const MAX_CODE_POINT = 0x10ffff;
const CACHE_LIMIT = 1000;
const cache = new Map<string, TranslatedPattern | XsdPatternError>();

/** The RegExp for an XSD pattern, built once per pattern; throws XsdPatternError for an invalid one. */
export function xsdPatternRegExp(pattern: string): RegExp {
  return translateXsdPattern(pattern).regExp;
}

export function translateXsdPattern(pattern: string): TranslatedPattern {
  let entry = cache.get(pattern);
  if (!entry) {
    try {
      entry = new Translator(pattern).translate();
    } catch (error) {
      if (!(error instanceof XsdPatternError)) throw error;
      entry = error;
    }
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(pattern, entry);
  }
  if (entry instanceof XsdPatternError) throw entry;
  return entry;
}

/** Single-character escapes of XSD: the escaped character stands for itself, except n, r and t. */
const SINGLE_CHAR_ESCAPES: Record<string, number> = { n: 0x0a, r: 0x0d, t: 0x09 };
for (const c of '\\|.-^?*+{}()[]') SINGLE_CHAR_ESCAPES[c] = c.codePointAt(0)!;

const CATEGORIES = new Set([
  'L', 'Lu', 'Ll', 'Lt', 'Lm', 'Lo', 'M', 'Mn', 'Mc', 'Me', 'N', 'Nd', 'Nl', 'No', 'P', 'Pc', 'Pd', 'Ps', 'Pe', 'Pi', 'Pf', 'Po',
  'Z', 'Zs', 'Zl', 'Zp', 'S', 'Sm', 'Sc', 'Sk', 'So', 'C', 'Cc', 'Cf', 'Co', 'Cn',
]);

/** XML 1.0 (fifth edition) NameStartChar and NameChar, which XSD 1.1 \i and \c stand for. */
const NAME_START_CHARS = normalize([
  [0x3a, 0x3a], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a], [0xc0, 0xd6], [0xd8, 0xf6], [0xf8, 0x2ff], [0x370, 0x37d], [0x37f, 0x1fff],
  [0x200c, 0x200d], [0x2070, 0x218f], [0x2c00, 0x2fef], [0x3001, 0xd7ff], [0xf900, 0xfdcf], [0xfdf0, 0xfffd], [0x10000, 0xeffff],
]);
const NAME_CHARS = normalize([...NAME_START_CHARS, [0x2d, 0x2e], [0x30, 0x39], [0xb7, 0xb7], [0x300, 0x36f], [0x203f, 0x2040]]);
const XSD_SPACES = normalize([[0x20, 0x20], [0x09, 0x0a], [0x0d, 0x0d]]);

const BLOCKS = new Map<string, Range[]>([
  ...UNICODE_BLOCKS.map(([name, first, last]): [string, Range[]] => [name, [[first, last]]]),
  ...Object.entries(FORMER_BLOCK_NAMES).map(([name, ranges]): [string, Range[]] => [name, [...ranges]]),
]);
/** Unicode's loose matching of block names, used only to suggest the right spelling. */
const looseName = (name: string) => name.toLowerCase().replace(/[\s_-]/g, '');
const BLOCKS_BY_LOOSE_NAME = new Map([...BLOCKS.keys()].map((name) => [looseName(name), name]));

/** What a character class escape stands for, as parts of a JavaScript class. */
interface ClassParts {
  ranges: Range[];
  properties: string[];
}

class Translator {
  private readonly chars: number[];
  private index = 0;
  private readonly warnings: string[] = [];

  constructor(private readonly pattern: string) {
    this.chars = [...pattern].map((c) => c.codePointAt(0)!);
  }

  translate(): TranslatedPattern {
    const body = this.regExp();
    if (this.index < this.chars.length) this.fail(this.index, "unmatched ')'");
    return { regExp: new RegExp(`^(?:${body})$`, 'u'), warnings: this.warnings };
  }

  private fail(index: number, detail: string): never {
    throw new XsdPatternError(this.pattern, index + 1, detail);
  }

  private peek(offset = 0): string | undefined {
    const cp = this.chars[this.index + offset];
    return cp === undefined ? undefined : String.fromCodePoint(cp);
  }

  private regExp(): string {
    const branches = [this.branch()];
    while (this.peek() === '|') {
      this.index++;
      branches.push(this.branch());
    }
    return branches.join('|');
  }

  private branch(): string {
    let out = '';
    let afterQuantifier = false;
    for (let c = this.peek(); c !== undefined && c !== '|' && c !== ')'; c = this.peek()) {
      if (c === '?' || c === '*' || c === '+' || c === '{') {
        const why = afterQuantifier ? ' (XSD has no lazy or possessive quantifiers such as *? or ++)' : '';
        this.fail(this.index, `'${c}' has nothing to repeat${why}`);
      }
      out += this.atom();
      const quantifier = this.quantifier();
      out += quantifier;
      afterQuantifier = quantifier !== '';
    }
    return out;
  }

  private quantifier(): string {
    const c = this.peek();
    if (c === '?' || c === '*' || c === '+') {
      this.index++;
      return c;
    }
    if (c !== '{') return '';
    const start = this.index;
    const match = /^\{(\d+)(,(\d*))?\}/.exec(String.fromCodePoint(...this.chars.slice(start, start + 48)));
    if (!match) this.fail(start, "expected a quantifier {n}, {n,} or {n,m} after '{' (write \\{ for the character)");
    const min = BigInt(match[1]!);
    if (match[3] && BigInt(match[3]) < min) this.fail(start, `quantifier ${match[0]}: the minimum is larger than the maximum`);
    if (min > 0xffffffffn || (match[3] && BigInt(match[3]) > 0xffffffffn)) this.fail(start, `quantifier ${match[0]} is too large`);
    this.index += match[0].length;
    return match[0];
  }

  private atom(): string {
    const start = this.index;
    const c = this.peek()!;
    this.index++;
    switch (c) {
      case '.':
        return '[^\\n\\r]';
      case '\\':
        return this.escapeOutsideClass(start);
      case '[':
        return this.classExpression(start);
      case '(': {
        if (this.peek() === '?') this.fail(start, "'(?' starts no group in XSD (it has no non-capturing groups, lookarounds or named groups); write plain (...)");
        const inner = this.regExp();
        if (this.peek() !== ')') this.fail(start, "unclosed group '('");
        this.index++;
        return `(?:${inner})`;
      }
      case ']':
      case '}':
        return this.fail(start, `'${c}' must be escaped as \\${c} outside a class`);
      default:
        return literal(this.chars[start]!);
    }
  }

  private escapeOutsideClass(start: number): string {
    const escaped = this.escape(start);
    if (typeof escaped === 'number') return literal(escaped);
    return classSource(false, escaped);
  }

  /** Reads the escape after a backslash: a code point for a single-character escape, else class parts. */
  private escape(start: number): number | ClassParts {
    const c = this.peek();
    if (c === undefined) this.fail(start, 'the pattern ends in a lone backslash');
    this.index++;
    const single = SINGLE_CHAR_ESCAPES[c];
    if (single !== undefined) return single;
    switch (c) {
      case 's': return { ranges: XSD_SPACES, properties: [] };
      case 'S': return { ranges: complement(XSD_SPACES), properties: [] };
      case 'i': return { ranges: NAME_START_CHARS, properties: [] };
      case 'I': return { ranges: complement(NAME_START_CHARS), properties: [] };
      case 'c': return { ranges: NAME_CHARS, properties: [] };
      case 'C': return { ranges: complement(NAME_CHARS), properties: [] };
      case 'd': return { ranges: [], properties: ['\\p{Nd}'] };
      case 'D': return { ranges: [], properties: ['\\P{Nd}'] };
      // General categories partition the code points, so "all but P, Z and C" is L, M, N and S.
      case 'w': return { ranges: [], properties: ['\\p{L}', '\\p{M}', '\\p{N}', '\\p{S}'] };
      case 'W': return { ranges: [], properties: ['\\p{P}', '\\p{Z}', '\\p{C}'] };
      case 'p':
      case 'P':
        return this.property(start, c === 'P');
    }
    this.fail(start, `'\\${c}' is not an escape in XSD patterns${escapeHint(c)}`);
  }

  private property(start: number, complemented: boolean): ClassParts {
    if (this.peek() !== '{') this.fail(start, `expected '{' after \\${complemented ? 'P' : 'p'}, as in \\p{Lu} or \\p{IsBasicLatin}`);
    const close = this.chars.indexOf(0x7d, this.index);
    if (close < 0) this.fail(start, `unclosed \\${complemented ? 'P' : 'p'}{`);
    const name = String.fromCodePoint(...this.chars.slice(this.index + 1, close));
    this.index = close + 1;
    if (CATEGORIES.has(name)) return { ranges: [], properties: [`\\${complemented ? 'P' : 'p'}{${name}}`] };
    const block = /^Is([a-zA-Z0-9-]+)$/.exec(name)?.[1];
    if (block === undefined) {
      this.fail(start, `unknown character property '${name}'; expected a category (L, Lu, Ll, Lt, Lm, Lo, M, Mn, Mc, Me, N, Nd, Nl, No, P, Pc, Pd, Ps, Pe, Pi, Pf, Po, Z, Zs, Zl, Zp, S, Sm, Sc, Sk, So, C, Cc, Cf, Co, Cn) or Is and a block name`);
    }
    const ranges = BLOCKS.get(block);
    if (ranges) return { ranges: complemented ? complement(normalize(ranges)) : ranges, properties: [] };
    // XSD 1.1 G.4.2.3: an unrecognized block name matches every character, in \p and \P alike.
    const suggestion = BLOCKS_BY_LOOSE_NAME.get(looseName(block));
    this.warnings.push(`column ${start + 1}: unknown Unicode block '${block}' matches any character${suggestion ? ` (did you mean Is${suggestion}?)` : ''}`);
    return { ranges: [[0, MAX_CODE_POINT]], properties: [] };
  }

  /** A class expression after its '[': a positive or negative group, optionally minus another class. */
  private classExpression(open: number): string {
    const negated = this.peek() === '^';
    if (negated) this.index++;
    const parts: ClassParts = { ranges: [], properties: [] };
    const groupStart = this.index;
    let subtraction: string | undefined;
    for (;;) {
      const c = this.peek();
      if (c === undefined) this.fail(open, "unclosed class '['");
      if (c === ']') break;
      if (c === '-' && this.peek(1) === '[') {
        if (this.index === groupStart) this.fail(this.index, 'a class subtraction needs a group to subtract from, as in [a-z-[aeiou]]');
        const subtracted = this.index + 1;
        this.index += 2;
        subtraction = this.classExpression(subtracted);
        if (this.peek() !== ']') this.fail(this.index, "a subtraction must end its class: expected ']' after it");
        break;
      }
      this.groupPart(groupStart, parts);
    }
    if (this.index === groupStart) this.fail(open, negated ? "empty negated class '[^]'" : "empty class '[]'");
    this.index++;
    const base = classSource(negated, parts);
    return subtraction ? `(?:(?!${subtraction})${base})` : base;
  }

  private groupPart(groupStart: number, parts: ClassParts): void {
    const start = this.index;
    const from = this.singleCharOrEscape(groupStart);
    if (typeof from !== 'number') {
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== '[') this.fail(start, 'a range cannot start at a multi-character or category escape');
      parts.ranges.push(...from.ranges);
      parts.properties.push(...from.properties);
      return;
    }
    const c = this.peek();
    if (c === '-' && this.peek(1) !== ']' && this.peek(1) !== '[' && this.peek(1) !== undefined) {
      this.index++;
      const endAt = this.index;
      if (this.peek() === '[') this.fail(endAt, "'[' inside a class must be escaped as \\[");
      const to = this.singleCharOrEscape(groupStart, true);
      if (typeof to !== 'number') this.fail(endAt, 'a range cannot end at a multi-character or category escape');
      if (to < from) this.fail(start, `range ${String.fromCodePoint(...this.chars.slice(start, this.index))} is out of order`);
      parts.ranges.push([from, to]);
      return;
    }
    parts.ranges.push([from, from]);
  }

  /** One class member: a character, a single-character escape (its code point) or a class escape. */
  private singleCharOrEscape(groupStart: number, rangeEnd = false): number | ClassParts {
    const start = this.index;
    const c = this.peek()!;
    this.index++;
    if (c === '\\') return this.escape(start);
    if (c === '[') this.fail(start, "'[' inside a class must be escaped as \\[ (a subtraction is written -[...] at the end)");
    if (c === '-' && !rangeEnd && start !== groupStart && this.peek() !== ']' && this.peek() !== undefined) {
      this.fail(start, "'-' inside a class must be escaped as \\- unless it is first or last, or separates a range");
    }
    return this.chars[start]!;
  }
}

function escapeHint(c: string): string {
  if (c === 'b' || c === 'B') return ' (XSD has no word boundaries)';
  if (/[0-9]/.test(c)) return ' (XSD has no back-references)';
  if (c === 'k') return ' (XSD has no named back-references)';
  if (c === 'x' || c === 'u') return ' (write the character itself, or a character reference &#x..; in the XML)';
  if (c === 'f' || c === 'v' || c === 'a' || c === 'e' || c === '0') return ' (write the character itself)';
  if (/[A-Za-z]/.test(c)) return '';
  return ` (write ${c} unescaped: it is an ordinary character in XSD)`;
}

/** A code point as a RegExp atom that means exactly that character, in or outside a class. */
function literal(cp: number): string {
  return (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) ? String.fromCodePoint(cp) : `\\u{${cp.toString(16)}}`;
}

function classSource(negated: boolean, parts: ClassParts): string {
  const ranges = normalize(parts.ranges).map(([first, last]) => (first === last ? literal(first) : `${literal(first)}-${literal(last)}`));
  return `[${negated ? '^' : ''}${ranges.join('')}${[...new Set(parts.properties)].join('')}]`;
}

/** Sorted, merged ranges. */
function normalize(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [first, last] of sorted) {
    const previous = merged[merged.length - 1];
    if (previous && first <= previous[1] + 1) previous[1] = Math.max(previous[1], last);
    else merged.push([first, last]);
  }
  return merged;
}

/** The code points not in `ranges` (which must be normalized). */
function complement(ranges: readonly Range[]): Range[] {
  const out: Range[] = [];
  let next = 0;
  for (const [first, last] of ranges) {
    if (first > next) out.push([next, first - 1]);
    next = last + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}
