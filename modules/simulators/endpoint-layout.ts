/**
 * A copy of a layout naming the endpoints its simulators really listen on (`workcell sim --port-base`),
 * for `workcell run` and the browsers to connect to. It lives in the layout's `.workcell/` folder, and
 * its file references (CA, PKI, password files) are rewritten to reach the same files from there.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { isMap, parseDocument, type Document } from 'yaml';
import { DEFAULT_PKI_FOLDER } from '../../drivers/opcua/pki-folder.ts';
import type { SimulatedModule } from './workcell-simulation.ts';

/** Writes the copy and returns its path. */
export function writeLayoutWithEndpoints(layoutFile: string, modules: readonly SimulatedModule[]): string {
  const source = resolve(layoutFile);
  const from = dirname(source);
  const folder = join(from, '.workcell');
  const lowest = Math.min(...modules.map((m) => portOf(m.endpoint)));
  const target = join(folder, `${basename(source, extname(source))}.sim-${lowest}.yaml`);
  const doc = parseDocument(readFileSync(source, 'utf8'));
  const rebase = (path: readonly (string | number)[]) => {
    const value = doc.getIn(path);
    if (typeof value === 'string' && !isAbsolute(value)) doc.setIn(path, relative(folder, resolve(from, value)) || '.');
  };
  const moduleNodes = (doc.get('modules') as { items?: unknown[] } | undefined)?.items ?? [];
  moduleNodes.forEach((node, index) => {
    if (!isMap(node)) return;
    const simulated = modules.find((m) => m.id === node.get('id'));
    const at = ['modules', index, 'connection'];
    if (doc.hasIn([...at, 'sila2'])) {
      if (simulated) doc.setIn([...at, 'sila2', 'port'], portOf(simulated.endpoint));
      for (const file of ['ca', 'certificate', 'key']) rebase([...at, 'sila2', 'tls', file]);
    }
    if (doc.hasIn([...at, 'opcua'])) {
      if (simulated) doc.setIn([...at, 'opcua', 'endpoint'], simulated.endpoint);
      if (!doc.hasIn([...at, 'opcua', 'pki'])) doc.setIn([...at, 'opcua', 'pki'], DEFAULT_PKI_FOLDER);
      rebase([...at, 'opcua', 'pki']);
      rebase([...at, 'opcua', 'credentials', 'passwordFile']);
    }
  });
  mkdirSync(folder, { recursive: true });
  writeFileSync(target, withHeader(doc, source, folder));
  return target;
}

function portOf(endpoint: string): number {
  return Number(/:(\d+)(?:\/.*)?$/.exec(endpoint)?.[1]);
}

/** The text, its schema comment pointing to the same schema, and a first line saying what the file is. */
function withHeader(doc: Document, source: string, folder: string): string {
  const text = doc.toString().replace(/(yaml-language-server: \$schema=)(\S+)/, (_all, key: string, schema: string) => `${key}${isAbsolute(schema) || /^[a-z]+:/i.test(schema) ? schema : relative(folder, resolve(dirname(source), schema))}`);
  return `# Written by \`workcell sim\`: ${relative(folder, source)} with the endpoints its simulators listen on. Edit that file, not this one.\n${text}`;
}
