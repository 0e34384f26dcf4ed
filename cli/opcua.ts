/** `workcell opcua browse`: a quick look at any LADS server. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { OpcUaDriver, type SecurityModeName, type SecurityPolicyName } from '../drivers/opcua/client.ts';
import { parseArgs, option, readPassword } from './args.ts';
import { UsageError, type Command } from './main.ts';

const MODES = ['None', 'Sign', 'SignAndEncrypt'];
const POLICIES = ['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'];

export const opcuaCommand: Command = {
  name: 'opcua',
  summary: 'Browse an OPC UA LADS server: devices, identity, health, functional units, functions and programs.',
  usage: 'workcell opcua browse ENDPOINT [--security MODE] [--policy POLICY] [--insecure] [--user NAME] [--password-env VAR | --password-file FILE] [--pki DIR]',
  async run(args) {
    const [sub, ...rest] = args;
    if (sub !== 'browse') throw new UsageError(sub ? `unknown opcua command '${sub}'` : 'name an opcua command (browse)');
    const parsed = parseArgs(rest, { options: ['security', 'policy', 'user', 'password-env', 'password-file', 'pki'], flags: ['insecure'] });
    const endpoint = parsed.positional[0];
    if (!endpoint) throw new UsageError('name the endpoint, such as opc.tcp://127.0.0.1:4840');
    const mode = option(parsed, 'security') ?? (parsed.flags.has('insecure') ? 'None' : 'SignAndEncrypt');
    const policy = option(parsed, 'policy') ?? 'Basic256Sha256';
    if (!MODES.includes(mode)) throw new UsageError(`--security takes ${MODES.join(', ')}`);
    if (!POLICIES.includes(policy)) throw new UsageError(`--policy takes ${POLICIES.join(', ')}`);
    if (mode === 'None' && !parsed.flags.has('insecure')) throw new UsageError('security None needs --insecure as well: it neither signs nor encrypts');
    const userName = option(parsed, 'user');
    const driver = await OpcUaDriver.connect({
      endpoint,
      securityMode: mode as SecurityModeName,
      securityPolicy: policy as SecurityPolicyName,
      allowInsecure: parsed.flags.has('insecure'),
      pkiFolder: option(parsed, 'pki') ?? join(homedir(), '.workcell', 'pki', 'opcua'),
      user: userName ? { name: userName, password: await readPassword(parsed, { variable: 'WORKCELL_OPCUA_PASSWORD', prompt: `OPC UA password of ${userName}: ` }) } : undefined,
    });
    try {
      const devices = await driver.devices();
      const out: string[] = [`${endpoint}: ${devices.length} LADS device(s)`];
      for (const d of devices) {
        out.push('', `Device ${d.name}`, `  ${d.identity.manufacturer} ${d.identity.model}, serial ${d.identity.serialNumber}, software ${d.identity.softwareRevision}`, `  health ${HEALTH[d.health ?? -1] ?? 'unknown'}`);
        for (const u of d.functionalUnits) {
          out.push(`  Functional unit ${u.name}: ${u.ladsState} (${u.state})`);
          for (const s of u.sensors) out.push(`    ${s.name} = ${s.value}${s.unit && s.unit !== '1' ? ` ${s.unit}` : ''}`);
          if (u.programTemplates.length) out.push(`    programs: ${u.programTemplates.join(', ')}`);
        }
      }
      process.stdout.write(`${out.join('\n')}\n`);
      return 0;
    } finally {
      await driver.close();
    }
  },
};

const HEALTH: Record<number, string> = { 0: 'NORMAL', 1: 'FAILURE', 2: 'CHECK_FUNCTION', 3: 'OFF_SPEC', 4: 'MAINTENANCE_REQUIRED' };
