import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { startBioreactor, USER, type LadsFixture } from '../support/lads-bioreactor.ts';

let fixture: LadsFixture;

beforeAll(async () => {
  fixture = await startBioreactor();
}, 60_000);

afterAll(async () => {
  await fixture?.server.stop();
});

describe('workcell opcua browse', () => {
  it('prints devices, identity, health, functional units with state, sensor values and programs', async () => {
    const result = await runCli(['opcua', 'browse', fixture.server.endpointUrl, '--pki', fixture.clientPki, '--user', USER.name, '--password-env', 'BIO_PW'], { env: { BIO_PW: USER.password } });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`${fixture.server.endpointUrl}: 1 LADS device(s)`);
    expect(result.stdout).toContain('Device Bioreactor1\n  Cytiva Xuri W25, serial XW25-3310, software 2.1.4\n  health NORMAL');
    expect(result.stdout).toContain('  Functional unit Culture: Stopped (idle)\n    Temperature = 36.5 degC\n    pH = 7.2\n    programs: culture, sample');
  }, 60_000);

  it('refuses security None without --insecure and says why a password is missing', async () => {
    const none = await runCli(['opcua', 'browse', fixture.server.endpointUrl, '--security', 'None']);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/security None needs --insecure as well/);
    const noPassword = await runCli(['opcua', 'browse', fixture.server.endpointUrl, '--user', USER.name, '--password-env', 'UNSET_VARIABLE_FOR_TEST']);
    expect(noPassword.status).toBe(2);
    expect(noPassword.stderr).toMatch(/environment variable UNSET_VARIABLE_FOR_TEST is not set/);
  });

  it('exits 1 with the reason when the password is wrong', async () => {
    const result = await runCli(['opcua', 'browse', fixture.server.endpointUrl, '--pki', fixture.clientPki, '--user', USER.name, '--password-env', 'BIO_PW'], { env: { BIO_PW: 'nope' } });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`the server refused user '${USER.name}': wrong user name or password`);
  }, 60_000);
});
