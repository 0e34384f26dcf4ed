/**
 * Feature definitions written in the style of the standard's own (sila_base: pretty-printed, members in any
 * order, a byte order mark, comments, dotted categories, every constraint kind), read by the parser and
 * mapped to protobuf. The expected services, messages and field numbers are written out from the SiLA 2
 * Part B mapping rules, not taken from our own output.
 */
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { checkConstraints } from '../../drivers/sila2/constraints.ts';
import { readFeatureFile } from '../../drivers/sila2/fdl.ts';
import { featureFqi, metadataHeader, protoPackage, type DataType, type Feature } from '../../drivers/sila2/feature.ts';
import { featureProtoText } from '../../drivers/sila2/proto.ts';
import { UTC } from '../../drivers/sila2/values.ts';

const FIXTURES = 'test/fixtures/sila/standard-style';
const FW = 'sila2.org.silastandard';

const read = (name: string) => readFeatureFile(`${FIXTURES}/${name}`);

/** The constrained type of a command parameter, and a checker for values of it. */
function parameterType(feature: Feature, command: string, parameter: string) {
  const dataType = feature.commands.find((c) => c.identifier === command)!.parameters.find((p) => p.identifier === parameter)!.dataType;
  return dataType as Extract<DataType, { kind: 'constrained' }>;
}
const check = (dataType: Extract<DataType, { kind: 'constrained' }>, value: Parameters<typeof checkConstraints>[0]) => checkConstraints(value, dataType.base, dataType.constraints);

interface ProtoShape {
  packageName: string;
  rpcs: string[];
  /** Message path below the package -> "Field=number:type" with types written as protoc resolves them. */
  messages: Record<string, string[]>;
}

/**
 * Reads .proto text back the way protoc would: each field's type name is resolved by protobuf's scoping rule
 * (innermost enclosing scope outward, first name component first), not by protobufjs's lenient lookup.
 */
function shape(text: string, packageName: string): ProtoShape {
  const framework = new protobuf.Root();
  framework.loadSync('protos/SiLAFramework.proto', { keepCase: true });
  const parsed = protobuf.parse(text, framework, { keepCase: true });
  const root = parsed.root;
  const exact = (path: string[]): protobuf.ReflectionObject | undefined => {
    let at: protobuf.ReflectionObject | undefined = root;
    for (const part of path) at = at instanceof protobuf.Namespace || at instanceof protobuf.Type ? at.nested?.[part] : undefined;
    return at;
  };
  const resolve = (written: string, scope: string[]): string => {
    const parts = written.split('.');
    for (let depth = scope.length; depth >= 0; depth--) {
      if (exact([...scope.slice(0, depth), parts[0]!])) {
        const full = [...scope.slice(0, depth), ...parts];
        if (!exact(full)) throw new Error(`'${written}' in ${scope.join('.')} names nothing (protoc would refuse it)`);
        return full.join('.');
      }
    }
    throw new Error(`'${written}' in ${scope.join('.')} names nothing (protoc would refuse it)`);
  };
  const relative = (full: string) => (full.startsWith(`${packageName}.`) ? full.slice(packageName.length + 1) : full);
  const messages: Record<string, string[]> = {};
  const visit = (type: protobuf.Type, path: string[]) => {
    messages[relative(path.join('.'))] = type.fieldsArray.map((f) => `${f.name}=${f.id}:${f.repeated ? 'repeated ' : ''}${relative(resolve(f.type, path))}`);
    for (const nested of type.nestedArray) if (nested instanceof protobuf.Type) visit(nested, [...path, nested.name]);
  };
  const namespace = exact(packageName.split('.')) as protobuf.Namespace;
  const rpcs: string[] = [];
  for (const nested of namespace.nestedArray) {
    if (nested instanceof protobuf.Type) visit(nested, [...packageName.split('.'), nested.name]);
    if (nested instanceof protobuf.Service) {
      for (const m of nested.methodsArray) {
        const scope = packageName.split('.');
        rpcs.push(`${nested.name}.${m.name}(${relative(resolve(m.requestType, scope))}) -> ${m.responseStream ? 'stream ' : ''}${relative(resolve(m.responseType, scope))}`);
      }
    }
  }
  return { packageName: parsed.package!, rpcs, messages };
}

describe('ColonyImager: structures, lists of structures, data type references, every kind of command, property and metadata', () => {
  const feature = read('ColonyImager-v2_1.sila.xml');

  it('reads the feature attributes and members, with nothing to warn of', () => {
    expect(feature.warnings).toEqual([]);
    expect(feature).toMatchObject({ sila2Version: '1.1', featureVersion: '2.1', maturityLevel: 'Verified', originator: 'dev.workcell.fixtures', category: 'imaging.microscopy', locale: 'en-gb' });
    expect(featureFqi(feature)).toBe('dev.workcell.fixtures/imaging.microscopy/ColonyImager/v2');
    expect(feature.description).toMatch(/^Images culture plates tile by tile to count colonies\.\n/);
    expect(feature.commands.map((c) => [c.identifier, c.observable, c.errors])).toEqual([
      ['AcquireTileScan', true, ['PlateNotLoaded', 'StageCollision']],
      ['SelectObjective', false, ['ObjectiveUnavailable']],
    ]);
    expect(feature.properties.map((p) => [p.identifier, p.observable, p.errors])).toEqual([['ObjectiveCatalogue', false, []], ['StageTemperature', true, ['SensorOffline']]]);
    expect(feature.errors.map((e) => e.identifier)).toEqual(['PlateNotLoaded', 'StageCollision', 'ObjectiveUnavailable', 'SensorOffline', 'BadgeNotAuthorised']);
    expect(metadataHeader(feature, 'OperatorBadge')).toBe('sila-dev.workcell.fixtures-imaging.microscopy-colonyimager-v2-metadata-operatorbadge-bin');
  });

  it('reads constraints of every kind the feature uses, and checks values against them', () => {
    const barcode = parameterType(feature, 'AcquireTileScan', 'PlateBarcode');
    expect(barcode.constraints).toEqual({ minimalLength: 8, maximalLength: 11, pattern: '[A-Z-[IO]]{2}\\d{6}(\\-[0-9A-F]{2})?' });
    expect(check(barcode, 'AB123456-0F')).toBeUndefined();
    expect(check(barcode, 'AB123456')).toBeUndefined();
    expect(check(barcode, 'IO123456')).toMatch(/does not match the pattern/);
    expect(check(barcode, 'AB123456-0f')).toMatch(/does not match the pattern/);
    const tiles = parameterType(feature, 'AcquireTileScan', 'Tiles');
    expect(tiles.constraints).toEqual({ minimalElementCount: 1, maximalElementCount: 384 });
    expect(tiles.base).toMatchObject({ kind: 'list', element: { kind: 'structure', elements: [{ identifier: 'Row' }, { identifier: 'Column' }, { identifier: 'FocusOffset' }] } });
    expect(check(tiles, [])).toBe('expected at least 1 elements, got 0');
    const exposure = parameterType(feature, 'AcquireTileScan', 'ExposureTime');
    expect(exposure.constraints).toMatchObject({ minimalExclusive: '0', maximalExclusive: '10000', unit: { label: 'ms', factor: 0.001, offset: 0, components: [{ siUnit: 'Second', exponent: 1 }] } });
    expect(check(exposure, 0)).toBe('0 is not greater than 0');
    expect(check(exposure, 9999)).toBeUndefined();
    const image = feature.commands[0]!.responses[0]!.dataType;
    expect(image).toMatchObject({ kind: 'constrained', constraints: { contentType: { type: 'image', subtype: 'tiff', parameters: [{ attribute: 'compression', value: 'lzw' }] } } });
    expect(feature.commands[0]!.intermediateResponses[1]!.dataType).toMatchObject({ constraints: { maximalLength: 65536, contentType: { type: 'image', subtype: 'png', parameters: [] } } });
    const magnification = parameterType(feature, 'SelectObjective', 'Magnification');
    expect(check(magnification, '10x')).toBeUndefined();
    expect(check(magnification, '40x')).toBe("'40x' is not one of 4x, 10x, 20x");
    const badge = feature.metadata[0]!.dataType as Extract<DataType, { kind: 'constrained' }>;
    expect(check(badge, 'ABC-123')).toBeUndefined();
    expect(check(badge, 'ÄBC-123')).toMatch(/does not match/);
    const temperature = feature.properties[1]!.dataType as Extract<DataType, { kind: 'constrained' }>;
    expect(check(temperature, 45)).toBeUndefined();
    expect(check(temperature, 45.5)).toBe('45.5 is not at most 4.5e1');
  });

  it('maps to the services, messages and field numbers of the SiLA 2 mapping', () => {
    const pkg = 'sila2.dev.workcell.fixtures.imaging.microscopy.colonyimager.v2';
    expect(protoPackage(feature)).toBe(pkg);
    const proto = shape(featureProtoText(feature), pkg);
    expect(proto.packageName).toBe(pkg);
    expect(proto.rpcs).toEqual([
      'ColonyImager.AcquireTileScan(AcquireTileScan_Parameters) -> sila2.org.silastandard.CommandConfirmation',
      `ColonyImager.AcquireTileScan_Info(${FW}.CommandExecutionUUID) -> stream ${FW}.ExecutionInfo`,
      `ColonyImager.AcquireTileScan_Intermediate(${FW}.CommandExecutionUUID) -> stream AcquireTileScan_IntermediateResponses`,
      `ColonyImager.AcquireTileScan_Result(${FW}.CommandExecutionUUID) -> AcquireTileScan_Responses`,
      'ColonyImager.SelectObjective(SelectObjective_Parameters) -> SelectObjective_Responses',
      'ColonyImager.Get_ObjectiveCatalogue(Get_ObjectiveCatalogue_Parameters) -> Get_ObjectiveCatalogue_Responses',
      'ColonyImager.Subscribe_StageTemperature(Subscribe_StageTemperature_Parameters) -> stream Subscribe_StageTemperature_Responses',
      'ColonyImager.Get_FCPAffectedByMetadata_OperatorBadge(Get_FCPAffectedByMetadata_OperatorBadge_Parameters) -> Get_FCPAffectedByMetadata_OperatorBadge_Responses',
    ]);
    expect(proto.messages).toEqual({
      DataType_Objective: ['Objective=1:DataType_Objective.Objective_Struct'],
      'DataType_Objective.Objective_Struct': [`Magnification=1:${FW}.Real`, `NumericalAperture=2:${FW}.Real`, `Immersion=3:${FW}.String`],
      DataType_ScanSummary: ['ScanSummary=1:DataType_ScanSummary.ScanSummary_Struct'],
      'DataType_ScanSummary.ScanSummary_Struct': [
        `ColonyCount=1:${FW}.Integer`,
        `FinishedAt=2:${FW}.Timestamp`,
        'Intensity=3:DataType_ScanSummary.ScanSummary_Struct.Intensity_Struct',
        'SkippedTiles=4:repeated DataType_ScanSummary.ScanSummary_Struct.SkippedTiles_Struct',
      ],
      'DataType_ScanSummary.ScanSummary_Struct.Intensity_Struct': [`Mean=1:${FW}.Real`, `Saturated=2:${FW}.Boolean`],
      'DataType_ScanSummary.ScanSummary_Struct.SkippedTiles_Struct': [`Index=1:${FW}.Integer`, `Reason=2:${FW}.String`],
      AcquireTileScan_Parameters: [`PlateBarcode=1:${FW}.String`, 'Tiles=2:repeated AcquireTileScan_Parameters.Tiles_Struct', `ExposureTime=3:${FW}.Integer`],
      'AcquireTileScan_Parameters.Tiles_Struct': [`Row=1:${FW}.Integer`, `Column=2:${FW}.Integer`, `FocusOffset=3:${FW}.Real`],
      AcquireTileScan_Responses: [`StitchedImage=1:${FW}.Binary`, 'Summary=2:DataType_ScanSummary'],
      AcquireTileScan_IntermediateResponses: [`TilesDone=1:${FW}.Integer`, `LatestThumbnail=2:${FW}.Binary`],
      SelectObjective_Parameters: [`Magnification=1:${FW}.String`],
      SelectObjective_Responses: [],
      Get_ObjectiveCatalogue_Parameters: [],
      Get_ObjectiveCatalogue_Responses: ['ObjectiveCatalogue=1:repeated DataType_Objective'],
      Subscribe_StageTemperature_Parameters: [],
      Subscribe_StageTemperature_Responses: [`StageTemperature=1:${FW}.Real`],
      Metadata_OperatorBadge: [`OperatorBadge=1:${FW}.String`],
      Get_FCPAffectedByMetadata_OperatorBadge_Parameters: [],
      Get_FCPAffectedByMetadata_OperatorBadge_Responses: [`AffectedCalls=1:repeated ${FW}.String`],
    });
  });
});

describe('MediaExchange: temporal, schema, identifier and Any constraints, chained data types, structured metadata', () => {
  const feature = read('MediaExchange-v1_0.sila.xml');

  it('reads the feature attributes and members, with nothing to warn of', () => {
    expect(feature.warnings).toEqual([]);
    expect(feature).toMatchObject({ sila2Version: '1.0', featureVersion: '1.0', maturityLevel: undefined, originator: 'dev.workcell.fixtures', category: 'cultivation', locale: 'de-ch' });
    expect(feature.dataTypes.map((d) => d.identifier)).toEqual(['VolumeStep', 'VolumePlan', 'LotNumber']);
    expect(feature.dataTypes[1]!.dataType).toEqual({ kind: 'list', element: { kind: 'reference', identifier: 'VolumeStep' } });
    const step = feature.dataTypes[0]!.dataType as Extract<DataType, { kind: 'structure' }>;
    expect(step.elements[1]!.dataType).toMatchObject({
      constraints: { maximalInclusive: '50', unit: { label: 'mL/min', factor: 1.6666667e-8, components: [{ siUnit: 'Meter', exponent: 3 }, { siUnit: 'Second', exponent: -1 }] } },
    });
    expect(feature.commands.map((c) => [c.identifier, c.observable, c.intermediateResponses.length, c.errors])).toEqual([
      ['ScheduleExchange', false, 0, ['ReactorBusy']],
      ['RunExchange', true, 0, ['UnknownTicket', 'ReactorBusy']],
    ]);
    expect(feature.metadata[0]!.dataType).toMatchObject({ kind: 'structure', elements: [{ identifier: 'Campaign' }, { identifier: 'PlannedBy' }] });
  });

  it('checks dates, times and timestamps against bounds and sets with time zones', () => {
    const notBefore = parameterType(feature, 'ScheduleExchange', 'NotBefore');
    const at = (year: number, month: number, day: number, hour: number) => ({ year, month, day, hour, minute: 0, second: 0, millisecond: 0, timezone: UTC });
    expect(check(notBefore, at(2020, 1, 1, 0))).toBeUndefined();
    expect(check(notBefore, at(2019, 12, 31, 23))).toMatch(/is not at least 2020-01-01T00:00:00Z$/);
    // The upper bound is midnight at +01:00, an hour before midnight UTC.
    expect(check(notBefore, at(2099, 12, 31, 23))).toMatch(/is not less than 2100-01-01T00:00:00\+01:00$/);
    expect(check(notBefore, at(2099, 12, 31, 22))).toBeUndefined();
    const harvest = parameterType(feature, 'ScheduleExchange', 'HarvestDate');
    expect(check(harvest, { year: 2023, month: 12, day: 31, timezone: UTC })).toMatch(/is not at least 2024-01-01Z$/);
    const shift = parameterType(feature, 'ScheduleExchange', 'ShiftStart');
    expect(check(shift, { hour: 13, minute: 0, second: 0, millisecond: 0, timezone: UTC })).toBeUndefined();
    expect(check(shift, { hour: 14, minute: 0, second: 0, millisecond: 0, timezone: UTC })).toMatch(/is not one of 06:00:00\+01:00, 14:00:00\+01:00, 22:00:00\+01:00$/);
  });

  it('checks identifiers, schemas, XSD name patterns and the types an Any may carry', () => {
    const uuid = parameterType(feature, 'ScheduleExchange', 'BatchUUID');
    expect(check(uuid, '6f1d2c3b-0a9e-4d8c-b7f6-5e4d3c2b1a09')).toBeUndefined();
    expect(check(uuid, '6f1d2c3b_0a9e_4d8c_b7f6_5e4d3c2b1a09')).toMatch(/does not match/);
    const recipe = parameterType(feature, 'ScheduleExchange', 'Recipe');
    expect(recipe.constraints.schema).toEqual({ type: 'Json', url: undefined, inline: '{"type": "object", "additionalProperties": {"type": "number"}}' });
    expect(check(recipe, '{"glucose": 4.5}')).toBeUndefined();
    expect(check(recipe, '{glucose')).toMatch(/^expected JSON/);
    const lot = feature.dataTypes[2]!.dataType as Extract<DataType, { kind: 'constrained' }>;
    expect(check(lot, 'FBS_2024.07-b')).toBeUndefined();
    expect(check(lot, '2024-FBS')).toMatch(/does not match/);
    const runCommand = feature.commands[0]!.responses[0]!.dataType as Extract<DataType, { kind: 'constrained' }>;
    expect(check(runCommand, 'dev.workcell.fixtures/cultivation/MediaExchange/v1/Command/RunExchange')).toBeUndefined();
    expect(check(runCommand, 'dev.workcell.fixtures/cultivation/MediaExchange/v1/Property/SupportedMedia')).toMatch(/is not a fully qualified Command identifier/);
    const log = feature.commands[1]!.responses[1]!.dataType;
    expect(log).toMatchObject({ constraints: { minimalLength: 1, schema: { type: 'Xml', url: 'https://example.org/schemas/pump-log.xsd' } } });
    const annotation = parameterType(feature, 'ScheduleExchange', 'Annotation');
    expect(annotation.constraints.allowedTypes).toHaveLength(3);
    expect(check(annotation, { type: { kind: 'list', element: { kind: 'basic', basic: 'Real' } }, value: [1.5] })).toBeUndefined();
    expect(check(annotation, { type: { kind: 'basic', basic: 'Boolean' }, value: true })).toBe('the Any value is of a type that is not allowed here');
    const media = feature.properties[0]!.dataType as Extract<DataType, { kind: 'constrained' }>;
    expect(check(media, ['a', 'b', 'c'])).toBe('expected exactly 4 elements, got 3');
    const fill = (feature.properties[1]!.dataType as Extract<DataType, { kind: 'list' }>).element as Extract<DataType, { kind: 'structure' }>;
    expect(fill.elements[1]!.dataType).toMatchObject({ constraints: { unit: { label: '1', components: [{ siUnit: 'Dimensionless', exponent: 1 }] } } });
  });

  it('maps to the services, messages and field numbers of the SiLA 2 mapping', () => {
    const pkg = 'sila2.dev.workcell.fixtures.cultivation.mediaexchange.v1';
    const proto = shape(featureProtoText(feature), pkg);
    expect(proto.rpcs).toEqual([
      'MediaExchange.ScheduleExchange(ScheduleExchange_Parameters) -> ScheduleExchange_Responses',
      `MediaExchange.RunExchange(RunExchange_Parameters) -> ${FW}.CommandConfirmation`,
      `MediaExchange.RunExchange_Info(${FW}.CommandExecutionUUID) -> stream ${FW}.ExecutionInfo`,
      `MediaExchange.RunExchange_Result(${FW}.CommandExecutionUUID) -> RunExchange_Responses`,
      'MediaExchange.Get_SupportedMedia(Get_SupportedMedia_Parameters) -> Get_SupportedMedia_Responses',
      'MediaExchange.Subscribe_ReservoirLevels(Subscribe_ReservoirLevels_Parameters) -> stream Subscribe_ReservoirLevels_Responses',
      'MediaExchange.Get_FCPAffectedByMetadata_CampaignContext(Get_FCPAffectedByMetadata_CampaignContext_Parameters) -> Get_FCPAffectedByMetadata_CampaignContext_Responses',
    ]);
    expect(proto.messages).toEqual({
      DataType_VolumeStep: ['VolumeStep=1:DataType_VolumeStep.VolumeStep_Struct'],
      'DataType_VolumeStep.VolumeStep_Struct': [`Volume=1:${FW}.Real`, `FlowRate=2:${FW}.Real`, `Note=3:${FW}.String`],
      DataType_VolumePlan: ['VolumePlan=1:repeated DataType_VolumeStep'],
      DataType_LotNumber: [`LotNumber=1:${FW}.String`],
      ScheduleExchange_Parameters: [
        `BatchUUID=1:${FW}.String`, `NotBefore=2:${FW}.Timestamp`, `HarvestDate=3:${FW}.Date`, `ShiftStart=4:${FW}.Time`,
        'Plan=5:DataType_VolumePlan', 'MediumLot=6:DataType_LotNumber', `Recipe=7:${FW}.String`, `Annotation=8:${FW}.Any`,
      ],
      ScheduleExchange_Responses: [`RunCommand=1:${FW}.String`, `Ticket=2:${FW}.String`],
      RunExchange_Parameters: [`Ticket=1:${FW}.String`],
      RunExchange_Responses: [`ExchangedVolume=1:${FW}.Real`, `PumpLog=2:${FW}.Binary`],
      Get_SupportedMedia_Parameters: [],
      Get_SupportedMedia_Responses: [`SupportedMedia=1:repeated ${FW}.String`],
      Subscribe_ReservoirLevels_Parameters: [],
      Subscribe_ReservoirLevels_Responses: ['ReservoirLevels=1:repeated Subscribe_ReservoirLevels_Responses.ReservoirLevels_Struct'],
      'Subscribe_ReservoirLevels_Responses.ReservoirLevels_Struct': [`Reservoir=1:${FW}.String`, `Fill=2:${FW}.Real`, `LastRefill=3:${FW}.Date`],
      Metadata_CampaignContext: ['CampaignContext=1:Metadata_CampaignContext.CampaignContext_Struct'],
      'Metadata_CampaignContext.CampaignContext_Struct': [`Campaign=1:${FW}.String`, `PlannedBy=2:${FW}.String`],
      Get_FCPAffectedByMetadata_CampaignContext_Parameters: [],
      Get_FCPAffectedByMetadata_CampaignContext_Responses: [`AffectedCalls=1:repeated ${FW}.String`],
    });
  });
});

describe('SpectrumProbe: no category, a 0.x version, a command with only intermediate responses', () => {
  const feature = read('SpectrumProbe-v0_3.sila.xml');

  it('takes the category none and major version 0 into its identifier and package', () => {
    expect(feature.warnings).toEqual([]);
    expect(feature.category).toBe('none');
    expect(featureFqi(feature)).toBe('dev.workcell.fixtures/none/SpectrumProbe/v0');
    expect(feature.commands[0]).toMatchObject({ identifier: 'Calibrate', observable: true, parameters: [], responses: [], intermediateResponses: [{ identifier: 'Stage' }] });
  });

  it('maps to the services, messages and field numbers of the SiLA 2 mapping', () => {
    const pkg = 'sila2.dev.workcell.fixtures.none.spectrumprobe.v0';
    const proto = shape(featureProtoText(feature), pkg);
    expect(proto.rpcs).toEqual([
      `SpectrumProbe.Calibrate(Calibrate_Parameters) -> ${FW}.CommandConfirmation`,
      `SpectrumProbe.Calibrate_Info(${FW}.CommandExecutionUUID) -> stream ${FW}.ExecutionInfo`,
      `SpectrumProbe.Calibrate_Intermediate(${FW}.CommandExecutionUUID) -> stream Calibrate_IntermediateResponses`,
      `SpectrumProbe.Calibrate_Result(${FW}.CommandExecutionUUID) -> Calibrate_Responses`,
      'SpectrumProbe.Subscribe_Spectrum(Subscribe_Spectrum_Parameters) -> stream Subscribe_Spectrum_Responses',
      'SpectrumProbe.Get_LaserOn(Get_LaserOn_Parameters) -> Get_LaserOn_Responses',
      'SpectrumProbe.Get_FCPAffectedByMetadata_SafetyInterlock(Get_FCPAffectedByMetadata_SafetyInterlock_Parameters) -> Get_FCPAffectedByMetadata_SafetyInterlock_Responses',
    ]);
    expect(proto.messages).toEqual({
      Calibrate_Parameters: [],
      Calibrate_Responses: [],
      Calibrate_IntermediateResponses: [`Stage=1:${FW}.String`],
      Subscribe_Spectrum_Parameters: [],
      Subscribe_Spectrum_Responses: [`Spectrum=1:repeated ${FW}.Integer`],
      Get_LaserOn_Parameters: [],
      Get_LaserOn_Responses: [`LaserOn=1:${FW}.Boolean`],
      Metadata_SafetyInterlock: [`SafetyInterlock=1:${FW}.Binary`],
      Get_FCPAffectedByMetadata_SafetyInterlock_Parameters: [],
      Get_FCPAffectedByMetadata_SafetyInterlock_Responses: [`AffectedCalls=1:repeated ${FW}.String`],
    });
  });
});
