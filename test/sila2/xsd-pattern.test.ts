import { describe, expect, it } from 'vitest';
import { translateXsdPattern, xsdPatternRegExp, XsdPatternError } from '../../drivers/sila2/xsd-pattern.ts';

/** Asserts what an XSD pattern accepts and refuses, as whole values. */
function matches(pattern: string, accepted: string[], refused: string[]): void {
  const re = xsdPatternRegExp(pattern);
  for (const value of accepted) expect(re.test(value), `${pattern} should accept ${JSON.stringify(value)}`).toBe(true);
  for (const value of refused) expect(re.test(value), `${pattern} should refuse ${JSON.stringify(value)}`).toBe(false);
}

function refusal(pattern: string): XsdPatternError {
  try {
    translateXsdPattern(pattern);
  } catch (error) {
    expect(error).toBeInstanceOf(XsdPatternError);
    return error as XsdPatternError;
  }
  throw new Error(`${pattern} was accepted`);
}

describe('XSD patterns match the whole value', () => {
  it('anchors implicitly, also across alternatives', () => {
    matches('a', ['a'], ['ab', 'ba', '', 'A']);
    matches('a|b', ['a', 'b'], ['ab', 'ba', 'a b']);
    matches('ab|cd|', ['ab', 'cd', ''], ['abcd', 'a', 'c']);
  });

  it('treats ^ and $ as ordinary characters', () => {
    matches('^a$', ['^a$'], ['a', '^a', 'a$']);
    matches('[$^]+', ['$', '^', '$^$'], ['', 'a']);
    matches('\\^x', ['^x'], ['x']);
  });

  it("accepts the standard SiLAService's ServerUUID pattern", () => {
    const uuid = '[0-9a-f]{8}\\-[0-9a-f]{4}\\-[0-9a-f]{4}\\-[0-9a-f]{4}\\-[0-9a-f]{12}';
    matches(uuid, ['0f8fad5b-d9cb-469f-a165-70867728950e'], ['0F8FAD5B-D9CB-469F-A165-70867728950E', '0f8fad5bd9cb469fa16570867728950e', '0f8fad5b-d9cb-469f-a165-70867728950e\n']);
  });
});

describe('escapes', () => {
  const singles: Array<[string, string]> = [
    ['n', '\n'], ['r', '\r'], ['t', '\t'], ['\\', '\\'], ['|', '|'], ['.', '.'], ['-', '-'], ['^', '^'], ['?', '?'], ['*', '*'], ['+', '+'],
    ['{', '{'], ['}', '}'], ['(', '('], [')', ')'], ['[', '['], [']', ']'],
  ];
  it.each(singles)('\\%s stands for its character, outside and inside a class', (escape, character) => {
    const others = ['a', '\\', 'n'].filter((other) => other !== character);
    matches(`\\${escape}`, [character], ['', `${character}${character}`, ...others]);
    matches(`[\\${escape}]`, [character], ['', ...others]);
    matches(`[a\\${escape}z]`, [character, 'a', 'z'], ['b']);
  });

  it('\\s is space, tab, newline and carriage return only', () => {
    matches('\\s', [' ', '\t', '\n', '\r'], ['\u00a0', '\f', '\v', '\u2028', 'a', '']);
    matches('\\S', ['\u00a0', 'a', '\f'], [' ', '\t', '\n', '\r']);
    matches('[\\S ]+', ['a b', '\u00a0 '], ['a\tb']);
  });

  it('\\d is any Unicode decimal digit (Nd), \\D the rest', () => {
    matches('\\d', ['0', '9', '\u0663', '\u096a', '\u{1d7ce}'], ['a', '\u00b2', '\u2163', '']);
    matches('\\D', ['a', '\u00b2', '-'], ['5', '\u0663']);
  });

  it('\\w is every character but punctuation, separators and others; \\W those', () => {
    matches('\\w', ['a', 'é', 'Ж', '中', '5', '\u0663', '+', '$', '€', '\u0301', '😀'], ['_', '-', '.', ' ', '\u00a0', '\n', '\u0007', '\ue000', '\u0378']);
    matches('\\W', ['_', '-', ' ', '\u0007'], ['a', '+', '5']);
  });

  it('\\i and \\c are the XML name-start and name characters, \\I and \\C their complements', () => {
    matches('\\i', ['a', 'Z', '_', ':', 'é', 'Ж', '中', '\u{10000}'], ['-', '.', '1', '\u00b7', '\u0301', ' ', '@', '\u00d7']);
    matches('\\c', ['a', '_', ':', '-', '.', '1', '\u00b7', '\u0301', '\u203f'], [' ', '@', '\u00d7', '/', '\u{f0000}']);
    matches('\\I', ['-', '1', ' '], ['a', '_']);
    matches('\\C', [' ', '@'], ['a', '-', '1']);
    matches('\\i\\c*', ['x', 'ns:item-2.b', '_a'], ['2a', '-a', 'a b']);
  });

  it('. is any character but newline and carriage return, one code point at a time', () => {
    matches('.', ['a', ' ', '\t', '\u2028', '😀', '\u0000'], ['\n', '\r', '', 'ab']);
    matches('.{2}', ['😀😀', 'ab'], ['😀']);
  });

  it('\\p{..} and \\P{..} take Unicode general categories', () => {
    matches('\\p{Lu}', ['A', 'Ä', 'Ж'], ['a', '1']);
    matches('\\p{L}+', ['aÄж中'], ['a1']);
    matches('\\P{L}', ['1', ' ', '-'], ['a', 'Ä']);
    matches('\\p{Nd}', ['7', '\u0663'], ['\u00b2']);
    matches('\\p{Sc}', ['$', '€'], ['+']);
    matches('\\p{Zs}', [' ', '\u00a0'], ['\n']);
    matches('\\p{Cc}', ['\u0007', '\n'], ['a']);
    matches('\\p{Co}', ['\ue000'], ['a']);
    matches('\\p{Cn}', ['\u0378'], ['a']);
    matches('[\\p{Lu}\\p{Nd}]+', ['A1B2'], ['a1']);
  });

  it('\\p{Is..} takes Unicode block names, current ones and those XSD 1.0 used', () => {
    matches('\\p{IsBasicLatin}+', ['abc~\u007f'], ['é']);
    matches('\\p{IsLatin-1Supplement}', ['é', '\u00a0'], ['e', 'ā']);
    matches('\\P{IsBasicLatin}', ['é', '中'], ['a']);
    matches('\\p{IsGreekandCoptic}', ['α', '\u03e2'], ['a']);
    matches('\\p{IsGreek}', ['α', '\u03e2'], ['a', 'ἀ']);
    matches('\\p{IsCJKUnifiedIdeographs}', ['中'], ['a']);
    matches('\\p{IsEmoticons}', ['😀'], ['a', '\u2600']);
    matches('\\p{IsPrivateUse}', ['\ue000', '\u{f0000}', '\u{10fffd}'], ['a']);
    matches('[\\P{IsBasicLatin}a]', ['a', 'é'], ['b']);
  });

  it('an unknown block name matches any character, with a warning that names the likely block', () => {
    const translated = translateXsdPattern('\\p{IsLatin1Supplement}');
    expect(translated.warnings).toEqual(["column 1: unknown Unicode block 'Latin1Supplement' matches any character (did you mean IsLatin-1Supplement?)"]);
    matches('\\p{IsLatin1Supplement}', ['a', 'é', '中'], ['', 'ab']);
    matches('\\P{IsNoSuchBlock}', ['a', 'é'], ['']);
  });
});

describe('character classes', () => {
  it('take ranges, negation, and a literal hyphen first or last', () => {
    matches('[a-c]', ['a', 'b', 'c'], ['d', 'A']);
    matches('[^a-c]', ['d', 'A', '\n'], ['a', 'b', '']);
    matches('[-a]', ['-', 'a'], ['b']);
    matches('[a-]', ['-', 'a'], ['b']);
    matches('[^-a]', ['b'], ['-', 'a']);
    matches('[a^]', ['a', '^'], ['b']);
    matches('[+--]', ['+', ',', '-'], ['.', '*']);
    matches('[\\--/]', ['-', '.', '/'], [',']);
    matches('[😀-😂]', ['😁'], ['😃']);
  });

  it('subtract a class, nested to any depth', () => {
    matches('[a-z-[aeiou]]+', ['bcd', 'xyz'], ['a', 'bad', 'B']);
    matches('[a-z-[a-y-[m]]]', ['m', 'z'], ['a', 'b', 'y']);
    matches('[^a-z-[0-9]]', ['A', '-'], ['a', '5']);
    matches('[\\w-[\\d]]', ['a', 'é'], ['5', '_']);
    matches('[a-z-[aeiou]]{2}', ['bc'], ['b', 'ab', 'bcd']);
  });
});

describe('quantifiers, groups and alternation', () => {
  it('repeat exactly, at least, or between', () => {
    matches('a{3}', ['aaa'], ['aa', 'aaaa']);
    matches('a{2,}', ['aa', 'aaaaa'], ['a']);
    matches('a{1,2}', ['a', 'aa'], ['', 'aaa']);
    matches('a{0,0}b', ['b'], ['ab']);
    matches('a?b*c+', ['c', 'abbc', 'bccc'], ['', 'aac', 'ab']);
  });

  it('group and repeat alternatives', () => {
    matches('(ab|c)+', ['ab', 'cabc'], ['', 'a', 'abd']);
    matches('(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(\\.(0|[1-9][0-9]*))?(_[_a-zA-Z0-9]+)?', ['1.0', '3.19.373_mighty_lab_devices'], ['01.0', '1', '1.0_']);
    matches('()', [''], ['a']);
    matches('x(|y)z', ['xz', 'xyz'], ['xyyz']);
  });
});

describe('invalid patterns are refused with the column and what is wrong', () => {
  it.each([
    ['[a-', 1, /unclosed class/],
    ['ab)', 3, /unmatched '\)'/],
    ['(ab', 1, /unclosed group/],
    ['a*?', 3, /'\?' has nothing to repeat \(XSD has no lazy or possessive quantifiers/],
    ['a++', 3, /'\+' has nothing to repeat/],
    ['*a', 1, /'\*' has nothing to repeat/],
    ['a|+', 3, /'\+' has nothing to repeat/],
    ['(?:a)', 1, /XSD .*no non-capturing groups, lookarounds or named groups/],
    ['(?=a)', 1, /no non-capturing groups, lookarounds/],
    ['a\\b', 2, /'\\b' is not an escape in XSD patterns \(XSD has no word boundaries\)/],
    ['(a)\\1', 4, /no back-references/],
    ['\\x41', 1, /'\\x' is not an escape/],
    ['a\\$', 2, /write \$ unescaped/],
    ['\\', 1, /lone backslash/],
    ['a{2,1}', 2, /minimum is larger than the maximum/],
    ['a{,3}', 2, /expected a quantifier \{n\}, \{n,\} or \{n,m\}/],
    ['a{x}', 2, /expected a quantifier/],
    ['a}', 2, /'\}' must be escaped/],
    ['a]', 2, /'\]' must be escaped/],
    ['[]', 1, /empty class/],
    ['[^]', 1, /empty negated class/],
    ['[z-a]', 2, /range z-a is out of order/],
    ['[a-b-c]', 5, /'-' inside a class must be escaped/],
    ['[a[b]', 3, /'\[' inside a class must be escaped/],
    ['[\\d-z]', 2, /a range cannot start at a multi-character or category escape/],
    ['[a-\\d]', 4, /a range cannot end at a multi-character or category escape/],
    ['[a-z-[aeiou]x]', 13, /a subtraction must end its class/],
    ['[-[a]]', 2, /needs a group to subtract from/],
    ['\\p{Xx}', 1, /unknown character property 'Xx'/],
    ['\\p{Cs}', 1, /unknown character property 'Cs'/],
    ['\\pL', 1, /expected '\{' after \\p/],
    ['\\p{Lu', 1, /unclosed \\p\{/],
    ['😀(', 2, /unclosed group/],
  ])('%s at column %i', (pattern, column, detail) => {
    const error = refusal(pattern);
    expect(error.column).toBe(column);
    expect(error.detail).toMatch(detail);
    expect(error.message).toBe(`invalid XML Schema pattern at column ${column}: ${error.detail}`);
  });
});

describe('translation is done once per pattern', () => {
  it('returns the same RegExp for the same pattern, and the same error for the same invalid one', () => {
    expect(xsdPatternRegExp('[a-z-[aeiou]]+')).toBe(xsdPatternRegExp('[a-z-[aeiou]]+'));
    expect(refusal('a{2,1}')).toBe(refusal('a{2,1}'));
  });
});
