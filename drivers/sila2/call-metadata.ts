/** Which metadata a call takes, as the server says (Get_FCPAffectedByMetadata_*), and the metadata of a server by name. */
import { featureFqi, fqi, sameFqi, type Feature, type Metadata } from './feature.ts';

export interface MetadataItem {
  feature: Feature;
  metadata: Metadata;
  /** Fully qualified metadata identifier. */
  fqi: string;
}

interface MetadataHost {
  readonly features: Feature[];
  affectedCalls(feature: string, metadata: string): Promise<string[]>;
}

export function metadataItems(features: Feature[]): MetadataItem[] {
  return features.flatMap((feature) => feature.metadata.map((metadata) => ({ feature, metadata, fqi: fqi.metadata(feature, metadata.identifier) })));
}

/** A metadata item by identifier or fully qualified identifier; undefined when the server defines none, an error when it is ambiguous. */
export function findMetadataItem(features: Feature[], reference: string): MetadataItem | undefined {
  const found = metadataItems(features).filter((m) => m.metadata.identifier === reference || sameFqi(m.fqi, reference));
  if (found.length > 1) throw new Error(`metadata '${reference}' is ambiguous: ${found.map((m) => m.fqi).join(', ')}; use its fully qualified identifier`);
  return found[0];
}

/** The metadata the server says affect a command or property (its fully qualified identifier `member`) of `feature`. */
export async function metadataAffecting(host: MetadataHost, feature: Feature, member: string): Promise<MetadataItem[]> {
  const affecting: MetadataItem[] = [];
  for (const item of metadataItems(host.features)) {
    const calls = await host.affectedCalls(featureFqi(item.feature), item.metadata.identifier);
    if (calls.some((c) => sameFqi(c, featureFqi(feature)) || sameFqi(c, member))) affecting.push(item);
  }
  return affecting;
}
