/**
 * Bundles the HMI's front end with esbuild: the login page's script, the app's script and one stylesheet
 * (screen and print), next to the two HTML shells. Everything the browser loads comes from here; nothing
 * is fetched from elsewhere at run time.
 *
 * The app is split (ES modules): what only some views need, Observable Plot and d3 above all, is in
 * chunks/ and loaded by those views with import(), so that every other page starts without parsing it.
 * The login page stays one file of its own: it is public, the app's chunks are a session's.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
const PAGES = ['index.html', 'login.html'];
/** The app's chunks' directory in the output, as the server serves it (web/server/app.ts). */
export const CHUNKS = 'chunks';

const SCRIPT: BuildOptions = {
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: join(HERE, 'tsconfig.json'),
  legalComments: 'none',
  logLevel: 'silent',
};

/** Writes login.html, login.js, index.html, app.js, chunks/*.js and app.css into `outdir`; returns their names. */
export async function buildApp(outdir: string): Promise<string[]> {
  const out = resolve(outdir);
  mkdirSync(out, { recursive: true });
  const app = await build({ ...SCRIPT, entryPoints: { app: join(HERE, 'src/main.tsx') }, splitting: true, chunkNames: `${CHUNKS}/[name]-[hash]`, outdir: out, metafile: true });
  await build({ ...SCRIPT, entryPoints: { login: join(HERE, 'src/login.tsx') }, outdir: out });
  await build({ entryPoints: { app: join(HERE, 'src/styles.css') }, bundle: true, minify: true, outdir: out, logLevel: 'silent' });
  for (const page of PAGES) copyFileSync(join(HERE, page), join(out, page));
  // The chunks app.js imports (what it shares with the plotting code) are fetched with it, not after it is read.
  const appOutput = Object.entries(app.metafile.outputs).find(([file]) => resolve(file) === join(out, 'app.js'))![1];
  const preloads = appOutput.imports.filter((i) => i.kind === 'import-statement').map((i) => `<link rel="modulepreload" href="/${relative(out, resolve(i.path))}">\n`);
  const index = join(out, 'index.html');
  const script = '<script type="module" src="/app.js"></script>\n';
  const html = readFileSync(index, 'utf8');
  if (!html.includes(script)) throw new Error(`web/app/index.html no longer has the line ${script.trim()} that build.ts puts the app's preloads after`);
  writeFileSync(index, html.replace(script, script + preloads.join('')));
  return [...PAGES, 'app.js', 'login.js', 'app.css', ...readdirSync(join(out, CHUNKS)).map((chunk) => `${CHUNKS}/${chunk}`)];
}
