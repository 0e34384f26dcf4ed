/** `workcell opcua browse`: a quick look at any LADS server. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { OpcUaDriver, type SecurityModeName, type SecurityPolicyName } from '../drivers/opcua/client.ts';
import { readPassword, type PasswordOptions } from './passwords.ts';
import { UsageError } from './usage.ts';

const MODES = ['None', 'Sign', 'SignAndEncrypt'];
const POLICIES = ['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'];

interface BrowseOptions extends PasswordOptions {
  security?: string;
  policy?: string;
  insecure?: boolean;
  user?: string;
  pki?: string;
}

/** `workcell opcua browse ENDPOINT`. */
export async function browse([endpoint]: [string], parsed: BrowseOptions): Promise<number> {
  const mode = parsed.security ?? (parsed.insecure ? 'None' : 'SignAndEncrypt');
  const policy = parsed.policy ?? 'Basic256Sha256';
  if (!MODES.includes(mode)) throw new UsageError(`--security takes ${MODES.join(', ')}`);
  if (!POLICIES.includes(policy)) throw new UsageError(`--policy takes ${POLICIES.join(', ')}`);
  if (mode === 'None' && !parsed.insecure) throw new UsageError('security None needs --insecure as well: it neither signs nor encrypts');
  const userName = parsed.user;
  const driver = await OpcUaDriver.connect({
    endpoint,
    securityMode: mode as SecurityModeName,
    securityPolicy: policy as SecurityPolicyName,
    allowInsecure: parsed.insecure === true,
    pkiFolder: parsed.pki ?? join(homedir(), '.workcell', 'pki', 'opcua'),
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
}

const HEALTH: Record<number, string> = { 0: 'NORMAL', 1: 'FAILURE', 2: 'CHECK_FUNCTION', 3: 'OFF_SPEC', 4: 'MAINTENANCE_REQUIRED' };
