/** The CLI's own files: no import cycles (dynamic imports included), and a command tree that loads no command's code. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli.ts';

const CLI_DIR = join(REPO_ROOT, 'cli');

/** Each cli file's imports: [static, dynamic] specifiers. */
function importsOf(file: string): { statics: string[]; dynamics: string[] } {
  const text = readFileSync(join(CLI_DIR, file), 'utf8');
  return {
    statics: [...text.matchAll(/^import (?!type )[^;]*? from '([^']+)';/gms)].map((m) => m[1]!),
    dynamics: [...text.matchAll(/import\('([^']+)'\)/g)].map((m) => m[1]!),
  };
}

const files = readdirSync(CLI_DIR).filter((f) => f.endsWith('.ts'));
const local = (specifier: string) => (specifier.startsWith('./') ? specifier.slice(2) : undefined);

describe('cli/ imports', () => {
  it('has no cycle, counting dynamic imports too, and no file imports main.ts', () => {
    const edges = new Map(files.map((f) => [f, [...importsOf(f).statics, ...importsOf(f).dynamics].map(local).filter((f): f is string => f !== undefined)]));
    for (const [file, targets] of edges) expect(targets, file).not.toContain('main.ts');
    const cycles: string[][] = [];
    const walk = (file: string, path: string[]) => {
      for (const next of edges.get(file) ?? []) {
        if (path.includes(next)) cycles.push([...path.slice(path.indexOf(next)), next]);
        else walk(next, [...path, next]);
      }
    };
    for (const file of files) walk(file, [file]);
    expect(cycles).toEqual([]);
  });

  it('builds the command tree from commander and the definitions alone: command code loads when its command runs', () => {
    const tree = ['main.ts', 'program.ts', 'usage.ts', 'conventions.ts', ...files.filter((f) => f.startsWith('define-'))];
    for (const file of tree) {
      for (const specifier of importsOf(file).statics) {
        expect(['commander', '../config/file-errors.ts', ...tree.map((f) => `./${f}`)], `${file} imports ${specifier}`).toContain(specifier);
      }
    }
  });
});
