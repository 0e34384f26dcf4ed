import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkcell } from '../../config/validate.ts';
import { opcuaOptionsFromLayout, plainMappingFromLayout } from '../../drivers/opcua/from-layout.ts';

describe('OPC UA settings from a layout', () => {
  const { layout } = loadWorkcell('layouts/two-lane.yaml');
  const bioreactor = layout.model.modules.get('bio-1')!;

  it('takes security, trust folder and user from the layout and the password from the environment', () => {
    const options = opcuaOptionsFromLayout(bioreactor, '/plant/layouts', { WORKCELL_OPCUA_PASSWORD: 's3cret' });
    expect(options).toMatchObject({
      endpoint: 'opc.tcp://127.0.0.1:14841',
      securityMode: 'SignAndEncrypt',
      securityPolicy: 'Basic256Sha256',
      allowInsecure: false,
      pkiFolder: '/plant/layouts/.workcell/pki/opcua',
      user: { name: 'workcell', password: 's3cret' },
    });
  });

  it('says which variable is missing', () => {
    expect(() => opcuaOptionsFromLayout(bioreactor, '/plant/layouts', {})).toThrow("module 'bio-1': environment variable WORKCELL_OPCUA_PASSWORD (credentials.passwordEnv) is not set");
  });

  it('reads a password file relative to the layout', () => {
    const dir = mkdtempSync(join(tmpdir(), 'workcell-pw-'));
    writeFileSync(join(dir, 'bio.pw'), 'from-file\n');
    const fromFile = { ...bioreactor, connection: { opcua: { ...bioreactor.connection.opcua!, credentials: { user: 'workcell', passwordFile: 'bio.pw' } } } };
    expect(opcuaOptionsFromLayout(fromFile, dir).user).toEqual({ name: 'workcell', password: 'from-file' });
  });

  it('turns a plain mapping into driver form, with sampling intervals in milliseconds', () => {
    const { layout: plain } = loadWorkcell('test/fixtures/layouts/opcua-plain-mapping.yaml', [], { today: '2026-11-22' });
    const mapping = plainMappingFromLayout(plain.model.modules.get('bio-2')!)!;
    expect(mapping.capabilities.culture).toMatchObject({ method: 'nsu=urn:vendor:acme:reactor;StartCulture', arguments: [{ parameter: 'duration', type: 'Double' }, { parameter: 'temperature', type: 'Double' }] });
    expect(mapping.telemetry!.temperature!.samplingIntervalMs).toBe(500);
    expect(mapping.state!.model).toBe('PackML');
  });
});
