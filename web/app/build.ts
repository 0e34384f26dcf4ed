/**
 * Bundles the HMI's front end with esbuild: the login page's script, the app's script and one stylesheet
 * (screen and print), next to the two HTML shells. Everything the browser loads comes from here; nothing
 * is fetched from elsewhere at run time.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
const PAGES = ['index.html', 'login.html'];

/** Writes login.html, login.js, index.html, app.js and app.css into `outdir`; returns their names. */
export async function buildApp(outdir: string): Promise<string[]> {
  const out = resolve(outdir);
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: { app: join(HERE, 'src/main.tsx'), login: join(HERE, 'src/login.tsx') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    outdir: out,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: join(HERE, 'tsconfig.json'),
    legalComments: 'none',
    logLevel: 'silent',
  });
  await build({ entryPoints: { app: join(HERE, 'src/styles.css') }, bundle: true, minify: true, outdir: out, logLevel: 'silent' });
  for (const page of PAGES) copyFileSync(join(HERE, page), join(out, page));
  return [...PAGES, 'app.js', 'login.js', 'app.css'];
}
