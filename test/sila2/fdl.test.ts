import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { FdlError, parseFeature, readFeatureFile } from '../../drivers/sila2/fdl.ts';
import { featureFqi, metadataHeader, protoPackage } from '../../drivers/sila2/feature.ts';
import { featureProtoText } from '../../drivers/sila2/proto.ts';
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
    ['an invalid pattern', feature(command(parameter('<Constrained><DataType><Basic>String</Basic></DataType><Constraints><Pattern>[a-</Pattern></Constraints></Constrained>'))), /pattern '\[a-' is not a valid regular expression/],
  ])('%s', (_name, xml, expected) => {
    expect(refusal(xml)).toMatch(expected);
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
