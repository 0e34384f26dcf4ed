import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { FdlError, parseFeature, readFeatureFile } from '../../drivers/sila2/fdl.ts';
import { checkConstraints } from '../../drivers/sila2/constraints.ts';
import { featureFqi, metadataHeader, protoPackage, type DataType } from '../../drivers/sila2/feature.ts';
import { featureProtoText } from '../../drivers/sila2/proto.ts';
import { UTC, type SilaValue } from '../../drivers/sila2/values.ts';
import { TEST_BENCH_FDL } from '../support/test-bench-server.ts';

/** A feature whose body is `body`, starting on line 4. */
const feature = (body: string, attributes = 'SiLA2Version="1.0" FeatureVersion="2.1" Originator="dev.workcell" Category="tests"', ns = 'http://www.sila-standard.org') =>
  `<?xml version="1.0"?>
<Feature ${attributes} xmlns="${ns}">
<Identifier>Probe</Identifier><DisplayName>Probe</DisplayName><Description>d</Description>
${body}
</Feature>`;

const command = (inner: string) => `<Command><Identifier>Run</Identifier><DisplayName>Run</DisplayName><Description>d</Description><Observable>No</Observable>
${inner}
</Command>`;

const parameter = (dataType: string) => `<Parameter><Identifier>P</Identifier><DisplayName>P</DisplayName><Description>d</Description><DataType>${dataType}</DataType></Parameter>`;
const constrained = (basic: string, constraints: string) => `<Constrained><DataType><Basic>${basic}</Basic></DataType><Constraints>${constraints}</Constraints></Constrained>`;
const structure = (elementType: string) => `<Structure><Element><Identifier>E</Identifier><DisplayName>E</DisplayName><Description>d</Description><DataType>${elementType}</DataType></Element></Structure>`;
const dataTypeDefinition = (id: string, dataType: string) => `<DataTypeDefinition><Identifier>${id}</Identifier><DisplayName>${id}</DisplayName><Description>d</Description><DataType>${dataType}</DataType></DataTypeDefinition>`;
const definedError = (id: string) => `<DefinedExecutionError><Identifier>${id}</Identifier><DisplayName>${id}</DisplayName><Description>d</Description></DefinedExecutionError>`;

function refusal(xml: string): string {
  try {
    parseFeature(xml, 'probe.sila.xml');
  } catch (error) {
    expect(error).toBeInstanceOf(FdlError);
    return (error as Error).message;
  }
  throw new Error('the definition was accepted');
}

describe('reading feature definitions', () => {
  it('reads the identity, version and fully qualified names', () => {
    const f = parseFeature(feature(''));
    expect(featureFqi(f)).toBe('dev.workcell/tests/Probe/v2');
    expect(protoPackage(f)).toBe('sila2.dev.workcell.tests.probe.v2');
  });

  it('reads every member kind of the test bench', () => {
    const f = readFeatureFile(TEST_BENCH_FDL);
    expect(f.commands.map((c) => [c.identifier, c.observable])).toContainEqual(['CountTo', true]);
    expect(f.metadata.map((m) => m.identifier)).toEqual(['AccessToken']);
    expect(metadataHeader(f, 'AccessToken')).toBe('sila-dev.workcell-tests-testbench-v1-metadata-accesstoken-bin');
    const temperature = f.commands.find((c) => c.identifier === 'SetTemperature')!.parameters[0]!.dataType;
    expect(temperature).toMatchObject({ kind: 'constrained', constraints: { minimalInclusive: '4', unit: { label: 'degC', offset: 273.15, components: [{ siUnit: 'Kelvin', exponent: 1 }] } } });
  });
});

describe('malformed definitions are refused with line, column and what was expected', () => {
  it.each([
    ['broken XML', feature(command('<Parameter>')), /^probe\.sila\.xml:\d+:\d+: malformed XML: /],
    ['a missing identifier', feature('<Command><DisplayName>Run</DisplayName></Command>'), /^probe\.sila\.xml:4:10: expected <Identifier> in <Command>, found <DisplayName>$/],
    ['a lower-case identifier', feature('<Command><Identifier>run</Identifier></Command>'), /^probe\.sila\.xml:4:10: expected an identifier \(an upper-case letter, then letters and digits, at most 255\), got 'run'$/],
    ['an unknown basic type', feature(command(parameter('<Basic>Float</Basic>'))), /^probe\.sila\.xml:5:104: expected a basic type \(String, Integer, Real, Boolean, Binary, Date, Time, Timestamp, Any\), got 'Float'$/],
    ['an unknown data type reference', feature(command(parameter('<DataTypeIdentifier>Pose</DataTypeIdentifier>'))), /^probe\.sila\.xml:5:104: unknown data type 'Pose'/],
    ['a list of lists', feature(command(parameter('<List><DataType><List><DataType><Basic>String</Basic></DataType></List></DataType></List>'))), /^probe\.sila\.xml:5:104: a List cannot directly contain another List$/],
    ['an unknown constraint', feature(command(parameter('<Constrained><DataType><Basic>String</Basic></DataType><Constraints><Colour>red</Colour></Constraints></Constrained>'))), /^probe\.sila\.xml:5:172: unknown constraint <Colour>/],
    ['an observable flag that is not Yes or No', feature('<Property><Identifier>P</Identifier><DisplayName>P</DisplayName><Description>d</Description><Observable>Maybe</Observable></Property>'), /^probe\.sila\.xml:4:93: expected Yes or No in <Observable>, got 'Maybe'$/],
    ['an undefined error', feature(command('<DefinedExecutionErrors><Identifier>Jam</Identifier></DefinedExecutionErrors>')), /^probe\.sila\.xml:4:1: Run refers to undefined error 'Jam'/],
    ['a duplicate command', feature(command('') + '\n' + command('')), /^probe\.sila\.xml:7:1: duplicate command identifier 'Run'$/],
    ['the wrong namespace', feature('', undefined, 'http://example.com'), /^probe\.sila\.xml:2:1: expected <Feature> in the namespace http:\/\/www\.sila-standard\.org/],
    ['a missing originator', feature('', 'SiLA2Version="1.0" FeatureVersion="1.0"'), /^probe\.sila\.xml:2:1: missing attribute Originator on <Feature>$/],
    ['an invalid pattern', feature(command(parameter(constrained('String', '<Pattern>[a-</Pattern>')))), /^probe\.sila\.xml:5:172: pattern '\[a-' is not a valid XML Schema regular expression: column 1: unclosed class '\['$/],
    ['a lazy quantifier', feature(command(parameter(constrained('String', '<Pattern>a+?</Pattern>')))), /^probe\.sila\.xml:5:172: pattern 'a\+\?' is not a valid XML Schema regular expression: column 3: '\?' has nothing to repeat/],
    ['a duplicate parameter', feature(command(parameter('<Basic>String</Basic>') + parameter('<Basic>Real</Basic>'))), /^probe\.sila\.xml:5:\d+: duplicate Run parameter identifier 'P'$/],
    ['an error listed twice', feature(`${command('<DefinedExecutionErrors><Identifier>Jam</Identifier><Identifier>Jam</Identifier></DefinedExecutionErrors>')}${definedError('Jam')}`), /^probe\.sila\.xml:4:1: Run lists error 'Jam' twice$/],
    ['data types that contain each other', feature(`${dataTypeDefinition('A', '<List><DataType><DataTypeIdentifier>B</DataTypeIdentifier></DataType></List>')}\n${dataTypeDefinition('B', structure('<DataTypeIdentifier>A</DataTypeIdentifier>'))}`), /^probe\.sila\.xml:4:1: data type 'A' contains itself \(A -> B -> A\)$/],
    ['a data type that contains itself', feature(dataTypeDefinition('A', structure('<DataTypeIdentifier>A</DataTypeIdentifier>'))), /data type 'A' contains itself \(A -> A\)$/],
    ['a feature data type among the allowed types of Any', feature(`${dataTypeDefinition('A', '<Basic>Real</Basic>')}${command(parameter(constrained('Any', '<AllowedTypes><DataType><DataTypeIdentifier>A</DataTypeIdentifier></DataType></AllowedTypes>')))}`), /<AllowedTypes> cannot name a data type of the feature \('A'\)/],
    ['constraints on a structure', feature(command(parameter(`<Constrained><DataType>${structure('<Basic>Real</Basic>')}</DataType><Constraints><Length>1</Length></Constraints></Constrained>`))), /constraints apply to a basic type or a List, not to a Structure$/],
    ['an empty set', feature(command(parameter(constrained('String', '<Set></Set>')))), /expected at least one <Value> in <Set>$/],
    ['a unit exponent that is not whole', feature(command(parameter(constrained('Real', '<Unit><Label>m</Label><Factor>1</Factor><Offset>0</Offset><UnitComponent><SIUnit>Meter</SIUnit><Exponent>1.5</Exponent></UnitComponent></Unit>')))), /expected a whole number in <Exponent>, got '1\.5'$/],
  ])('%s', (_name, xml, expected) => {
    expect(refusal(xml)).toMatch(expected);
  });
});

describe('definitions that break a rule of the standard but stay usable are read, with warnings', () => {
  /** The parsed feature's only parameter type and the feature's warnings. */
  const read = (xml: string) => {
    const f = parseFeature(xml, 'probe.sila.xml');
    const dataType = f.commands[0]!.parameters[0]!.dataType as Extract<DataType, { kind: 'constrained' }>;
    return { warnings: f.warnings, check: (value: SilaValue) => checkConstraints(value, dataType.base, dataType.constraints) };
  };
  const date = (year: number, month: number, day: number) => ({ year, month, day, timezone: UTC });

  it('warns of a constraint that does not apply to its type, and ignores it', () => {
    const { warnings, check } = read(feature(command(parameter(constrained('Real', '<Pattern>[0-9]{1}\\.[0-9]{3}</Pattern><MaximalInclusive>5.000</MaximalInclusive>')))));
    expect(warnings).toEqual(['probe.sila.xml:5:170: constraint <Pattern> does not apply to Real (it takes Set, MaximalExclusive, MaximalInclusive, MinimalExclusive, MinimalInclusive, Unit); it is ignored']);
    expect(check(3.25)).toBeUndefined();
    expect(check(5.5)).toBe('5.5 is not at most 5.000');
  });

  it('warns of set values and bounds that are not literals of the type, and ignores those constraints', () => {
    const bounds = read(feature(command(parameter(constrained('Date', '<MaximalExclusive>20191231</MaximalExclusive><MinimalInclusive>2019-01-01Z</MinimalInclusive>')))));
    expect(bounds.warnings).toEqual([
      "probe.sila.xml:5:170: <MaximalExclusive> '20191231' is not a date YYYY-MM-DD with a time zone, such as 2024-05-31Z or 2024-05-31+02:00; the constraint is ignored",
    ]);
    expect(bounds.check(date(2030, 1, 1))).toBeUndefined();
    expect(bounds.check(date(2018, 12, 31))).toMatch(/is not at least 2019-01-01Z$/);
    const set = read(feature(command(parameter(constrained('Time', '<Set><Value>080000</Value><Value>09:00:00Z</Value></Set>')))));
    expect(set.warnings).toEqual(["probe.sila.xml:5:175: Set value '080000' is not a time hh:mm:ss with a time zone, such as 13:45:00Z; the constraint is ignored"]);
    expect(set.check({ hour: 10, minute: 0, second: 0, millisecond: 0, timezone: UTC })).toBeUndefined();
  });

  it('reads a bound without a time zone as UTC, and says so', () => {
    const { warnings, check } = read(feature(command(parameter(constrained('Date', '<MaximalInclusive>2024-06-30</MaximalInclusive>')))));
    expect(warnings).toEqual(["probe.sila.xml:5:170: <MaximalInclusive> '2024-06-30' has no time zone; it is read as UTC"]);
    expect(check(date(2024, 6, 30))).toBeUndefined();
    expect(check(date(2024, 7, 1))).toMatch(/is not at most 2024-06-30$/);
  });

  it('reads INF and exponents as Real bounds', () => {
    const { warnings, check } = read(feature(command(parameter(constrained('Real', '<MinimalExclusive>-1e3</MinimalExclusive><MaximalExclusive>INF</MaximalExclusive>')))));
    expect(warnings).toEqual([]);
    expect(check(1e300)).toBeUndefined();
    expect(check(-1000)).toBe('-1000 is not greater than -1e3');
  });

  it('warns of an unknown Unicode block, of white space around a pattern, and of an unknown SiLA version', () => {
    const block = read(feature(command(parameter(constrained('String', '<Pattern>\\p{IsLatin1Supplement}+</Pattern>')))));
    expect(block.warnings).toEqual(["probe.sila.xml:5:172: pattern '\\p{IsLatin1Supplement}+': column 1: unknown Unicode block 'Latin1Supplement' matches any character (did you mean IsLatin-1Supplement?)"]);
    const spaced = read(feature(command(parameter(constrained('String', '<Pattern> [A-Z]</Pattern>')))));
    expect(spaced.warnings).toEqual(["probe.sila.xml:5:172: pattern ' [A-Z]' begins or ends with white space, which values must then contain"]);
    expect(spaced.check('A')).toBe("'A' does not match the pattern  [A-Z]");
    expect(spaced.check(' A')).toBeUndefined();
    expect(parseFeature(feature('', 'SiLA2Version="2.0" FeatureVersion="1.0" Originator="dev.workcell"')).warnings).toEqual(["2:1: SiLA2Version '2.0' is none this implementation knows (1.0, 1.1)"]);
  });

  it('reads what the standard allows without a warning: XSD-only patterns, TypeIdentifier, a byte order mark', () => {
    const uuid = read(`\ufeff${feature(command(parameter(constrained('String', '<Length>36</Length><Pattern>[0-9a-f]{8}\\-[0-9a-f]{4}\\-[0-9a-f]{4}\\-[0-9a-f]{4}\\-[0-9a-f]{12}</Pattern>'))))}`);
    expect(uuid.warnings).toEqual([]);
    expect(uuid.check('0f8fad5b-d9cb-469f-a165-70867728950e')).toBeUndefined();
    expect(uuid.check('0f8fad5b-d9cb-469f-a165-70867728950E')).toMatch(/does not match the pattern/);
    const type = read(feature(command(parameter(constrained('String', '<FullyQualifiedIdentifier>TypeIdentifier</FullyQualifiedIdentifier>')))));
    expect(type.warnings).toEqual([]);
    expect(type.check('org.silastandard/core/ErrorRecoveryService/v1/DataType/ContinuationOption')).toBeUndefined();
    expect(type.check('org.silastandard/core/ErrorRecoveryService/v1/Command/ExecuteContinuationOption')).toMatch(/is not a fully qualified Type identifier/);
  });
});

describe('the .proto text', () => {
  const text = featureProtoText(readFeatureFile(TEST_BENCH_FDL));

  it('follows the SiLA 2 mapping for commands, properties and metadata', () => {
    expect(text).toContain('package sila2.dev.workcell.tests.testbench.v1;');
    expect(text).toContain('rpc CountTo (CountTo_Parameters) returns (sila2.org.silastandard.CommandConfirmation) {}');
    expect(text).toContain('rpc CountTo_Info (sila2.org.silastandard.CommandExecutionUUID) returns (stream sila2.org.silastandard.ExecutionInfo) {}');
    expect(text).toContain('rpc CountTo_Intermediate (sila2.org.silastandard.CommandExecutionUUID) returns (stream CountTo_IntermediateResponses) {}');
    expect(text).toContain('rpc CountTo_Result (sila2.org.silastandard.CommandExecutionUUID) returns (CountTo_Responses) {}');
    expect(text).toContain('rpc Subscribe_Counter (Subscribe_Counter_Parameters) returns (stream Subscribe_Counter_Responses) {}');
    expect(text).toContain('rpc Get_FCPAffectedByMetadata_AccessToken (Get_FCPAffectedByMetadata_AccessToken_Parameters) returns (Get_FCPAffectedByMetadata_AccessToken_Responses) {}');
    expect(text).toContain('message DataType_Point {');
    expect(text).toContain('repeated sila2.org.silastandard.String Names = 10;');
  });

  it('is valid protobuf that other tools can compile, with the same field numbers', () => {
    const framework = new protobuf.Root();
    framework.loadSync('protos/SiLAFramework.proto', { keepCase: true });
    const parsed = protobuf.parse(text, framework, { keepCase: true });
    parsed.root.resolveAll();
    const everything = parsed.root.lookupType('sila2.dev.workcell.tests.testbench.v1.DataType_Everything.Everything_Struct');
    expect(everything.fieldsArray.map((f) => [f.name, f.id])).toEqual([
      ['Text', 1], ['Whole', 2], ['Number', 3], ['Flag', 4], ['Bytes', 5], ['Day', 6], ['Clock', 7], ['Moment', 8], ['Anything', 9], ['Names', 10], ['Path', 11], ['Nested', 12],
    ]);
  });
});
