/**
 * The SiLA 2 feature model: what a Feature Definition (FDL) says, independent of XML and protobuf.
 */

export const BASIC_TYPES = ['String', 'Integer', 'Real', 'Boolean', 'Binary', 'Date', 'Time', 'Timestamp', 'Any'] as const;
export type BasicType = (typeof BASIC_TYPES)[number];

export type DataType =
  | { kind: 'basic'; basic: BasicType }
  | { kind: 'list'; element: DataType }
  | { kind: 'structure'; elements: StructureElement[] }
  | { kind: 'constrained'; base: DataType; constraints: Constraints }
  | { kind: 'reference'; identifier: string };

export interface Described {
  identifier: string;
  displayName: string;
  description: string;
}

export interface StructureElement extends Described {
  dataType: DataType;
}

export interface UnitConstraint {
  label: string;
  factor: number;
  offset: number;
  components: { siUnit: string; exponent: number }[];
}

export const FQI_KINDS = [
  'FeatureIdentifier',
  'CommandIdentifier',
  'CommandParameterIdentifier',
  'CommandResponseIdentifier',
  'IntermediateCommandResponseIdentifier',
  'DefinedExecutionErrorIdentifier',
  'PropertyIdentifier',
  'DataTypeIdentifier',
  'MetadataIdentifier',
  // The standard's Constraints.xsd spells DataTypeIdentifier this way; definitions use both.
  'TypeIdentifier',
] as const;
export type FqiKind = (typeof FQI_KINDS)[number];

export interface Constraints {
  length?: number;
  minimalLength?: number;
  maximalLength?: number;
  set?: string[];
  pattern?: string;
  maximalExclusive?: string;
  maximalInclusive?: string;
  minimalExclusive?: string;
  minimalInclusive?: string;
  unit?: UnitConstraint;
  contentType?: { type: string; subtype: string; parameters: { attribute: string; value: string }[] };
  elementCount?: number;
  minimalElementCount?: number;
  maximalElementCount?: number;
  fullyQualifiedIdentifier?: FqiKind;
  schema?: { type: 'Xml' | 'Json'; url?: string; inline?: string };
  allowedTypes?: DataType[];
}

export interface Parameter extends Described {
  dataType: DataType;
}

export interface Command extends Described {
  observable: boolean;
  parameters: Parameter[];
  responses: Parameter[];
  intermediateResponses: Parameter[];
  errors: string[];
}

export interface Property extends Described {
  observable: boolean;
  dataType: DataType;
  errors: string[];
}

export interface Metadata extends Described {
  dataType: DataType;
  errors: string[];
}

export type DefinedExecutionError = Described;

export interface DataTypeDefinition extends Described {
  dataType: DataType;
}

export interface Feature extends Described {
  sila2Version: string;
  featureVersion: string;
  maturityLevel?: string;
  originator: string;
  category: string;
  locale?: string;
  commands: Command[];
  properties: Property[];
  metadata: Metadata[];
  errors: DefinedExecutionError[];
  dataTypes: DataTypeDefinition[];
  /** The FDL text the feature was read from; GetFeatureDefinition returns it unchanged. */
  xml: string;
  /**
   * What in the definition breaks a rule of the standard without making it unusable, as "line:col: what"
   * (a constraint that does not apply to its type, a bound that is not a literal of it): such constraints
   * are ignored when values are checked.
   */
  warnings?: string[];
}

export function majorVersion(feature: Pick<Feature, 'featureVersion'>): number {
  return Number(feature.featureVersion.split('.')[0]);
}

/** `originator/category/FeatureIdentifier/vMajor`, e.g. org.silastandard/core/SiLAService/v1. */
export function featureFqi(feature: Pick<Feature, 'originator' | 'category' | 'identifier' | 'featureVersion'>): string {
  return `${feature.originator}/${feature.category}/${feature.identifier}/v${majorVersion(feature)}`;
}

export const fqi = {
  command: (f: Feature, command: string) => `${featureFqi(f)}/Command/${command}`,
  parameter: (f: Feature, command: string, parameter: string) => `${featureFqi(f)}/Command/${command}/Parameter/${parameter}`,
  response: (f: Feature, command: string, response: string) => `${featureFqi(f)}/Command/${command}/Response/${response}`,
  intermediateResponse: (f: Feature, command: string, response: string) => `${featureFqi(f)}/Command/${command}/IntermediateResponse/${response}`,
  property: (f: Feature, property: string) => `${featureFqi(f)}/Property/${property}`,
  error: (f: Feature, error: string) => `${featureFqi(f)}/DefinedExecutionError/${error}`,
  dataType: (f: Feature, dataType: string) => `${featureFqi(f)}/DataType/${dataType}`,
  metadata: (f: Feature, metadata: string) => `${featureFqi(f)}/Metadata/${metadata}`,
};

/** Fully qualified identifiers are compared case-insensitively (SiLA 2 Part A). */
export function sameFqi(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** The protobuf package of a feature: sila2.<originator>.<category>.<featureidentifier lowercased>.v<major>. */
export function protoPackage(feature: Pick<Feature, 'originator' | 'category' | 'identifier' | 'featureVersion'>): string {
  return `sila2.${feature.originator}.${feature.category}.${feature.identifier.toLowerCase()}.v${majorVersion(feature)}`;
}

/** The gRPC header that carries a metadata value: sila-<fqi lowercased, '/' as '-'>-bin. */
export function metadataHeader(feature: Feature, metadata: string): string {
  return `sila-${fqi.metadata(feature, metadata).toLowerCase().replace(/\//g, '-')}-bin`;
}

/** A data type with references resolved one level, for code that walks values. */
export function resolveReference(feature: Feature, dataType: DataType): DataType {
  if (dataType.kind !== 'reference') return dataType;
  const definition = feature.dataTypes.find((d) => d.identifier === dataType.identifier);
  if (!definition) throw new Error(`unknown data type '${dataType.identifier}' in feature ${feature.identifier}`);
  return definition.dataType;
}
