import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { featureFileName, moduleKindFeatureXml, silaIdentifier } from '../../drivers/sila2/catalogue-features.ts';
import { parseFeature } from '../../drivers/sila2/fdl.ts';
import { featureFqi } from '../../drivers/sila2/feature.ts';
import { deriveFeatureProto, frameworkRoot } from '../../drivers/sila2/proto.ts';
import { loadCatalogue } from '../../config/catalogue.ts';
import { knownUnits, SI_DECOMPOSITION } from '../../config/units.ts';

const catalogue = loadCatalogue();
const kinds = catalogue.kindNames().map((name) => catalogue.kind(name)!);

describe("Workcell's module features", () => {
  it.each(kinds.map((k) => [k.kind, k]))('protos/features holds the current definition for %s', (_name, kind) => {
    const file = `protos/features/${featureFileName(kind)}`;
    // `npm run generate:features` rewrites the files when the catalogue changes
    expect(readFileSync(file, 'utf8')).toBe(moduleKindFeatureXml(kind));
  });

  it.each(kinds.map((k) => [k.kind, k]))('%s offers every capability as an observable command with its parameters, results and telemetry', (_name, kind) => {
    const feature = parseFeature(moduleKindFeatureXml(kind));
    expect(featureFqi(feature)).toBe(`dev.workcell/modules/${silaIdentifier(kind.kind)}/v1`);
    for (const [name, capability] of Object.entries(kind.capabilities)) {
      const command = feature.commands.find((c) => c.identifier === silaIdentifier(name));
      expect(command?.observable).toBe(true);
      expect(command!.parameters.map((p) => p.identifier)).toEqual(expect.arrayContaining(Object.keys(capability.parameters).map(silaIdentifier)));
      expect(command!.responses.map((r) => r.identifier)).toEqual(Object.keys(capability.results).map(silaIdentifier));
      for (const channel of Object.keys(capability.telemetry)) expect(feature.properties.find((p) => p.identifier === silaIdentifier(channel))?.observable).toBe(true);
    }
    expect(feature.properties.find((p) => p.identifier === 'State')).toBeDefined();
    expect(() => deriveFeatureProto(feature, frameworkRoot())).not.toThrow();
  });

  it('states numeric ranges and SI units as constraints', () => {
    const feature = parseFeature(moduleKindFeatureXml(catalogue.kind('rocking-bioreactor')!));
    const temperature = feature.commands.find((c) => c.identifier === 'Culture')!.parameters.find((p) => p.identifier === 'Temperature')!;
    expect(temperature.dataType).toMatchObject({
      kind: 'constrained',
      constraints: { minimalInclusive: '30', maximalInclusive: '40', unit: { label: 'degC', factor: 1, offset: 273.15, components: [{ siUnit: 'Kelvin', exponent: 1 }] } },
    });
  });

  it('knows the SI form of every unit the catalogue may use', () => {
    expect(knownUnits().filter((u) => !SI_DECOMPOSITION[u])).toEqual([]);
  });
});
