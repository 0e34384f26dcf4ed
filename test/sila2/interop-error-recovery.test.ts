/**
 * ErrorRecoveryService as the standard defines it (org.silastandard/core/ErrorRecoveryService/v2), seen
 * by a client that knows only the standard: plain gRPC with messages written here from Part B's mapping of
 * the standard's definition, not from Workcell's definition or generator. Such a client (the UniteLabs
 * CDK, a sila_python generated client) found no v2 service on Workcell's servers, and its messages would
 * not have decoded Workcell's v1-labelled RecoverableError (ErrorTime as a String, the timeout as a bare
 * Integer, InputData as a String where the standard has Any).
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterEach, describe, expect, it } from 'vitest';
import { SilaClient } from '../../drivers/sila2/client.ts';
import type { RecoverableErrorInfo } from '../../drivers/sila2/core/core-client.ts';
import { SilaServer } from '../../drivers/sila2/server.ts';

const ERS = 'org.silastandard/core/ErrorRecoveryService/v2';
const SERVICE = '/sila2.org.silastandard.core.errorrecoveryservice.v2.ErrorRecoveryService';

/** The standard's ErrorRecoveryService v2.0 under Part B: field numbers follow the definition's order. */
const STANDARD_PROTO = `
syntax = "proto3";
package sila2.org.silastandard.core.errorrecoveryservice.v2;
message DataType_Timeout { sila2.org.silastandard.Integer Timeout = 1; }
message DataType_ContinuationOption {
  message ContinuationOption_Struct { sila2.org.silastandard.String Identifier = 1; sila2.org.silastandard.String Description = 2; sila2.org.silastandard.String RequiredInputData = 3; }
  ContinuationOption_Struct ContinuationOption = 1;
}
message DataType_RecoverableError {
  message RecoverableError_Struct {
    sila2.org.silastandard.String ErrorIdentifier = 1;
    sila2.org.silastandard.String CommandIdentifier = 2;
    sila2.org.silastandard.String CommandExecutionUUID = 3;
    sila2.org.silastandard.Timestamp ErrorTime = 4;
    sila2.org.silastandard.String ErrorMessage = 5;
    repeated DataType_ContinuationOption ContinuationOptions = 6;
    sila2.org.silastandard.String DefaultOption = 7;
    DataType_Timeout AutomaticSelectionTimeout = 8;
  }
  RecoverableError_Struct RecoverableError = 1;
}
message ExecuteContinuationOption_Parameters { sila2.org.silastandard.String CommandExecutionUUID = 1; sila2.org.silastandard.String ContinuationOption = 2; sila2.org.silastandard.Any InputData = 3; }
message ExecuteContinuationOption_Responses {}
message SetErrorHandlingTimeout_Parameters { DataType_Timeout ErrorHandlingTimeout = 1; }
message SetErrorHandlingTimeout_Responses {}
message Subscribe_RecoverableErrors_Parameters {}
message Subscribe_RecoverableErrors_Responses { repeated DataType_RecoverableError RecoverableErrors = 1; }
// An Any's payload: a message whose field 1 holds the value, as for a data type definition of that type.
message AnyStringPayload { sila2.org.silastandard.String Any = 1; }
`;

/** The standard's Void, as an Any's type: a String constrained to length 0 (its payload is empty). */
const VOID_XML = '<DataType><Constrained><DataType><Basic>String</Basic></DataType><Constraints><Length>0</Length></Constraints></Constrained></DataType>';

/** A device command that stops in a recoverable error and finishes as the chosen option says. */
const JAMMING_FEATURE = `<?xml version="1.0" encoding="utf-8"?>
<Feature SiLA2Version="1.0" FeatureVersion="1.0" Originator="org.example" Category="test" xmlns="http://www.sila-standard.org">
  <Identifier>Jamming</Identifier><DisplayName>Jamming</DisplayName><Description>Jams once.</Description>
  <Command><Identifier>Move</Identifier><DisplayName>Move</DisplayName><Description>Jams, then goes on as told.</Description><Observable>Yes</Observable>
    <Response><Identifier>Outcome</Identifier><DisplayName>Outcome</DisplayName><Description>What happened.</Description><DataType><Basic>String</Basic></DataType></Response>
    <DefinedExecutionErrors><Identifier>Jammed</Identifier></DefinedExecutionErrors>
  </Command>
  <DefinedExecutionError><Identifier>Jammed</Identifier><DisplayName>Jammed</DisplayName><Description>The mechanism jammed.</Description></DefinedExecutionError>
</Feature>`;

const root = new protobuf.Root();
protobuf.parse(readFileSync(new URL('../../protos/SiLAFramework.proto', import.meta.url), 'utf8'), root, { keepCase: true });
protobuf.parse(STANDARD_PROTO, root, { keepCase: true });
const type = (name: string) => root.lookupType(name);
const pkg = 'sila2.org.silastandard.core.errorrecoveryservice.v2';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function jammingServer() {
  const server = new SilaServer({ name: 'Jamming device', type: 'JammingDevice', port: 0, coreFeatures: { errorRecoveryService: true } });
  server.addFeature(JAMMING_FEATURE, {
    commands: {
      Move: async (_parameters, context) => {
        const choice = await context.recoverableError({
          errorIdentifier: 'Jammed', message: 'the gripper jammed',
          options: [{ identifier: 'Retry', description: 'Clear the jam by hand, then retry' }, { identifier: 'Skip', description: 'Leave the plate where it is', requiredInputData: '<DataType><Basic>String</Basic></DataType>' }],
          defaultOption: 'Retry', automaticSelectionTimeoutSeconds: 30,
        });
        return { Outcome: `${choice?.option} ${JSON.stringify(choice?.inputData)}` };
      },
    },
  });
  await server.start();
  cleanup.push(() => server.stop(100));
  const sila = await SilaClient.connect({ host: '127.0.0.1', port: server.port, ca: server.certificatePem });
  cleanup.push(() => sila.close());
  const raw = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createSsl(Buffer.from(server.certificatePem!)));
  cleanup.push(() => raw.close());
  return { server, sila, raw };
}

function unary(raw: grpc.Client, method: string, requestType: string, request: object, responseType: string): Promise<Record<string, any>> {
  const req = type(requestType);
  const res = type(responseType);
  return new Promise((resolve, reject) =>
    raw.makeUnaryRequest(`${SERVICE}/${method}`, (m: object) => Buffer.from(req.encode(req.fromObject(m)).finish()), (b: Buffer) => res.toObject(res.decode(b), { longs: Number }), request, (error, response) => (error ? reject(error) : resolve(response!))),
  );
}

/** The first RecoverableErrors value with an error in it. */
function firstRecoverableErrors(raw: grpc.Client): Promise<Record<string, any>[]> {
  const res = type(`${pkg}.Subscribe_RecoverableErrors_Responses`);
  return new Promise((resolve, reject) => {
    const call = raw.makeServerStreamRequest(`${SERVICE}/Subscribe_RecoverableErrors`, () => Buffer.alloc(0), (b: Buffer) => res.toObject(res.decode(b), { longs: Number, defaults: true }), {});
    call.on('data', (message: { RecoverableErrors: Record<string, any>[] }) => {
      if (!message.RecoverableErrors.length) return;
      resolve(message.RecoverableErrors);
      call.cancel();
    });
    call.on('error', (error: grpc.ServiceError) => error.code !== grpc.status.CANCELLED && reject(error));
  });
}

function silaError(error: grpc.ServiceError): Record<string, any> {
  const siLAError = type('sila2.org.silastandard.SiLAError');
  return siLAError.toObject(siLAError.decode(Buffer.from(error.details, 'base64')));
}

describe('ErrorRecoveryService for a client that knows only the standard', () => {
  it('is served as the standard v2 feature, and its RecoverableErrors decode with the standard messages', async () => {
    const { server, sila, raw } = await jammingServer();
    expect(sila.identity.implementedFeatures).toContain(ERS);
    const execution = await sila.start('Jamming', 'Move');

    const [listed] = await firstRecoverableErrors(raw);
    const error = listed!.RecoverableError;
    expect(error.ErrorIdentifier.value).toBe('org.example/test/Jamming/v1/DefinedExecutionError/Jammed');
    expect(error.CommandIdentifier.value).toBe('org.example/test/Jamming/v1/Command/Move');
    expect(error.CommandExecutionUUID.value).toBe(execution.uuid);
    expect(error.ErrorMessage.value).toBe('the gripper jammed');
    const errorTime = error.ErrorTime;
    const written = Date.UTC(errorTime.year, errorTime.month - 1, errorTime.day, errorTime.hour - errorTime.timezone.hours, errorTime.minute - (errorTime.timezone.minutes ?? 0), errorTime.second, errorTime.millisecond);
    expect(Math.abs(written - Date.now())).toBeLessThan(60_000);
    expect(error.ContinuationOptions.map((o: any) => o.ContinuationOption.Identifier.value)).toEqual(['Retry', 'Skip']);
    expect(error.ContinuationOptions[1].ContinuationOption.RequiredInputData.value).toBe('<DataType><Basic>String</Basic></DataType>');
    expect(error.DefaultOption.value).toBe('Retry');
    expect(error.AutomaticSelectionTimeout.Timeout.value).toBe(30);
    expect(server.port).toBeGreaterThan(0);

    // The standard's InputData is an Any: here a String, as the option's RequiredInputData asks.
    const inputData = { type: '<DataType><Basic>String</Basic></DataType>', payload: type(`${pkg}.AnyStringPayload`).encode({ Any: { value: 'plate left on the deck' } }).finish() };
    await unary(raw, 'ExecuteContinuationOption', `${pkg}.ExecuteContinuationOption_Parameters`, { CommandExecutionUUID: { value: execution.uuid }, ContinuationOption: { value: 'Skip' }, InputData: inputData }, `${pkg}.ExecuteContinuationOption_Responses`);
    expect(await execution.result()).toEqual({ Outcome: 'Skip "plate left on the deck"' });
  });

  it('refuses an option the error does not offer with the standard UnknownContinuationOption error, and the error keeps waiting', async () => {
    const { sila, raw } = await jammingServer();
    const execution = await sila.start('Jamming', 'Move');
    await firstRecoverableErrors(raw);
    const refused = await unary(raw, 'ExecuteContinuationOption', `${pkg}.ExecuteContinuationOption_Parameters`, { CommandExecutionUUID: { value: execution.uuid }, ContinuationOption: { value: 'Pray' }, InputData: { type: VOID_XML, payload: new Uint8Array(0) } }, `${pkg}.ExecuteContinuationOption_Responses`).catch((e: grpc.ServiceError) => e);
    expect((refused as grpc.ServiceError).code).toBe(grpc.status.ABORTED);
    expect(silaError(refused as grpc.ServiceError).definedExecutionError.errorIdentifier).toBe(`${ERS}/DefinedExecutionError/UnknownContinuationOption`);
    expect((await firstRecoverableErrors(raw))[0]!.RecoverableError.CommandExecutionUUID.value).toBe(execution.uuid);

    // The standard's timeout is the Timeout type (a structure around an Integer), in both directions.
    await unary(raw, 'SetErrorHandlingTimeout', `${pkg}.SetErrorHandlingTimeout_Parameters`, { ErrorHandlingTimeout: { Timeout: { value: 600 } } }, `${pkg}.SetErrorHandlingTimeout_Responses`);
    await sila.core.continueWith(execution.uuid, 'Retry');
    expect(await execution.result()).toEqual({ Outcome: 'Retry ""' });
  });

  it('gives Workcell clients the error time as ISO 8601 text and sends no input data as Void', async () => {
    const { sila } = await jammingServer();
    const execution = await sila.start('Jamming', 'Move');
    let listed: RecoverableErrorInfo[] = [];
    for await (const errors of sila.core.recoverableErrors()) if ((listed = errors).length) break;
    expect(listed[0]!.errorTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(Math.abs(Date.parse(listed[0]!.errorTime) - Date.now())).toBeLessThan(60_000);
    expect(listed[0]!.automaticSelectionTimeoutSeconds).toBe(30);
    await sila.core.continueWith(execution.uuid, 'Retry');
    expect(await execution.result()).toEqual({ Outcome: 'Retry ""' });
  });
});
