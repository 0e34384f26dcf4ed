/** The CLI's own files: none imports main.ts back, and the command tree loads no command's code. */
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

describe('cli/ imports', () => {
  // Cycles, dynamic imports included, are test/architecture/layers.test.ts's to find.
  it('has no file importing main.ts back', () => {
    for (const file of files) expect([...importsOf(file).statics, ...importsOf(file).dynamics], file).not.toContain('./main.ts');
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
