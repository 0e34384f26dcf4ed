import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const SCANNED = ['orchestrator', 'drivers', 'modules', 'cli'];
/** Where timers and "now" are implemented: everything else asks a Clock (or wallNow(), WALL_CLOCK by name). */
const CLOCK_IMPLEMENTATIONS = new Set(['drivers/clock.ts', 'drivers/virtual-clock.ts']);

/** A timer or a reading of the time that does not go through a clock. */
const RAW_TIME = [
  { what: 'a timer of its own', pattern: /(?<![\w.$])(?:setTimeout|setInterval|setImmediate|clearTimeout|clearInterval|clearImmediate)\s*\(/ },
  { what: 'a timer of its own', pattern: /\b(?:globalThis|global)\.(?:setTimeout|setInterval|setImmediate)\b/ },
  { what: "Node's timers module", pattern: /['"]node:timers(?:\/promises)?['"]|['"]timers(?:\/promises)?['"]/ },
  { what: 'a "now" of its own', pattern: /\bDate\.now\s*\(|\bperformance\.now\s*\(|\bnew Date\(\s*\)/ },
];

/** Comments blanked (line numbers kept): a comment may name what the code must not do. */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, ' ')).replace(/(^|\s)\/\/.*$/gm, '$1');
}

/** `line: what` for each raw timer or "now" in a source text. */
function rawTimers(source: string): string[] {
  return withoutComments(source)
    .split('\n')
    .flatMap((line, i) => RAW_TIME.filter(({ pattern }) => pattern.test(line)).map(({ what }) => `${i + 1}: ${what}: ${line.trim()}`));
}

function sources(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

describe('one clock for every timer', () => {
  it('finds timers and readings of the time that bypass the clock, and not what goes through one', () => {
    const found = rawTimers(
      [
        'const t = setTimeout(() => undefined, 10);',
        'this.clock.setTimeout(fn, 10); clock.clearTimeout(t);',
        '// setInterval(tick, 100) is what this replaced',
        "const started = Date.now(); const url = 'https://example.org'; // Date.now()",
        'await new Promise((r) => setImmediate(r));',
        "import { setTimeout as wait } from 'node:timers/promises';",
        'const at = new Date(clock.now()); const today = new Date();',
        '/* performance.now() */ const ok = wallNow();',
      ].join('\n'),
    );
    expect(found.map((f) => f.split(':')[0])).toEqual(['1', '4', '5', '6', '7']);
  });

  it(`has no setTimeout, setInterval, setImmediate, Date.now() or new Date() in ${SCANNED.join('/, ')}/ outside ${[...CLOCK_IMPLEMENTATIONS].join(', ')}`, () => {
    const files = SCANNED.flatMap(sources).filter((file) => !CLOCK_IMPLEMENTATIONS.has(file));
    expect(files.length).toBeGreaterThan(50);
    const offences = files.flatMap((file) => rawTimers(readFileSync(join(ROOT, file), 'utf8')).map((found) => `${file}:${found}`));
    expect(offences, `use the Clock (injected; WALL_CLOCK or wallNow() by name for what must be wall time):\n${offences.join('\n')}`).toEqual([]);
  });
});
