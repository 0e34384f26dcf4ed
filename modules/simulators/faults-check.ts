/**
 * Whether a faults file fits the layout it is run with: every module it names exists, and every
 * capability and telemetry channel it names is one that module's kind has. A fault that can never
 * fire would otherwise be accepted silently and the test it was written for would prove nothing.
 */
import type { LayoutModel } from '../../config/layout.ts';
import { closest } from '../../config/schema-check.ts';
import type { YamlSource } from '../../config/source.ts';
import type { FaultSpec } from './fault-spec.ts';

function hint(value: string, known: readonly string[]): string {
  const suggestion = closest(value, known);
  return suggestion ? `; did you mean '${suggestion}'?` : known.length > 0 ? `; it has: ${known.join(', ')}` : '; it has none';
}

/** Reports each mismatch at its place in the faults file. */
export function checkFaultsFitLayout(source: YamlSource, faults: Record<string, FaultSpec[]>, layout: LayoutModel): void {
  const moduleIds = [...layout.modules.keys()];
  for (const [moduleId, specs] of Object.entries(faults)) {
    const module = layout.modules.get(moduleId);
    if (!module) {
      const suggestion = closest(moduleId, moduleIds);
      source.reportAt(['faults', moduleId], `unknown module '${moduleId}'${suggestion ? `; did you mean '${suggestion}'?` : `; the layout ${layout.id} has: ${moduleIds.join(', ')}`}`, 'key');
      continue;
    }
    const kind = layout.catalogue.kind(module.kind);
    if (!kind) continue;
    const capabilities = layout.capabilitiesOf(module);
    const channels = [...new Set(Object.values(kind.capabilities).flatMap((c) => Object.keys(c.telemetry)))];
    specs.forEach((spec, index) => {
      const at = ['faults', moduleId, index];
      if ('capability' in spec && spec.capability !== undefined && !capabilities.includes(spec.capability)) {
        source.reportAt([...at, 'capability'], `module '${moduleId}' (${module.kind}) has no capability '${spec.capability}'${hint(spec.capability, capabilities)}`);
      }
      if (spec.kind === 'sensor-drift' && !channels.includes(spec.channel)) {
        source.reportAt([...at, 'channel'], `module '${moduleId}' (${module.kind}) has no telemetry channel '${spec.channel}'${hint(spec.channel, channels)}`);
      }
    });
  }
}
