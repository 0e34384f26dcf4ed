/**
 * `workcell sila browse` shows what a standard feature definition says about errors: the standard's
 * ErrorHandlingTest-style properties and LockController's metadata name the defined execution errors a
 * read, a subscription or a metadata item may end with, and browsing showed only those of commands.
 */
import { describe, expect, it } from 'vitest';
import { describeFeature } from '../../cli/sila.ts';
import { parseFeature } from '../../drivers/sila2/fdl.ts';

const FEATURE = `<?xml version="1.0" encoding="utf-8"?>
<Feature SiLA2Version="1.0" FeatureVersion="1.0" Originator="org.example" Category="test" xmlns="http://www.sila-standard.org">
  <Identifier>Faulty</Identifier><DisplayName>Faulty</DisplayName><Description>Errors everywhere.</Description>
  <Property><Identifier>Reading</Identifier><DisplayName>Reading</DisplayName><Description>May fail to read.</Description><Observable>No</Observable>
    <DataType><Basic>Integer</Basic></DataType><DefinedExecutionErrors><Identifier>SensorOffline</Identifier></DefinedExecutionErrors></Property>
  <Property><Identifier>Level</Identifier><DisplayName>Level</DisplayName><Description>May fail mid-stream.</Description><Observable>Yes</Observable>
    <DataType><Basic>Real</Basic></DataType><DefinedExecutionErrors><Identifier>SensorOffline</Identifier><Identifier>Overflow</Identifier></DefinedExecutionErrors></Property>
  <Metadata><Identifier>Token</Identifier><DisplayName>Token</DisplayName><Description>A token.</Description><DataType><Basic>String</Basic></DataType>
    <DefinedExecutionErrors><Identifier>InvalidToken</Identifier></DefinedExecutionErrors></Metadata>
  <DefinedExecutionError><Identifier>SensorOffline</Identifier><DisplayName>Sensor Offline</DisplayName><Description>No sensor.</Description></DefinedExecutionError>
  <DefinedExecutionError><Identifier>Overflow</Identifier><DisplayName>Overflow</DisplayName><Description>Too high.</Description></DefinedExecutionError>
  <DefinedExecutionError><Identifier>InvalidToken</Identifier><DisplayName>Invalid Token</DisplayName><Description>Wrong token.</Description></DefinedExecutionError>
</Feature>`;

describe('browsing a feature', () => {
  it('lists the defined execution errors of properties and metadata under each', () => {
    const lines = describeFeature(parseFeature(FEATURE));
    const after = (heading: string) => lines[lines.indexOf(heading) + 1];
    expect(after('  Property Reading: Integer')).toBe('    errors        SensorOffline');
    expect(after('  Property Level: Real (observable)')).toBe('    errors        SensorOffline, Overflow');
    expect(after('  Metadata Token: String')).toBe('    errors        InvalidToken');
  });
});
