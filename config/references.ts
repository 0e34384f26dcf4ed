/** Id bookkeeping shared by the layout and schedule checks. */
import { closest } from './schema-check.ts';
import type { YamlPath, YamlSource } from './source.ts';

/**
 * Reports every id used more than once (at its second and later uses) and returns the distinct ids.
 * Items carry their own path, or sit in a list at `listPath`.
 */
export function reportDuplicateIds(
  source: YamlSource,
  items: readonly { id: string; path?: YamlPath }[],
  listPath: YamlPath | null,
  what: string,
): string[] {
  const firstLine = new Map<string, number>();
  items.forEach((item, i) => {
    const path = item.path ?? [...(listPath ?? []), i, 'id'];
    const first = firstLine.get(item.id);
    if (first !== undefined) source.reportAt(path, `duplicate ${what} id '${item.id}' (first defined on line ${first})`);
    else firstLine.set(item.id, source.positionOf(path).line);
  });
  return [...firstLine.keys()];
}

export function reportUnknownReference(source: YamlSource, path: YamlPath, what: string, value: string, known: readonly string[]): void {
  const suggestion = closest(value, known);
  const hint = suggestion ? `; did you mean '${suggestion}'?` : known.length ? `; known: ${known.join(', ')}` : `; none is defined`;
  source.reportAt(path, `unknown ${what} '${value}'${hint}`);
}
