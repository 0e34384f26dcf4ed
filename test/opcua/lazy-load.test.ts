import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Which of node-opcua's packages a fresh Node process has loaded after importing `modules`. */
function loadsNodeOpcua(modules: string[]): boolean {
  const script = `
    import { createRequire } from 'node:module';
    for (const m of ${JSON.stringify(modules)}) await import(new URL(m, 'file://${root}/').href);
    const cache = createRequire(import.meta.url).cache;
    process.stdout.write(String(Object.keys(cache).some((k) => /[\\\\/]node-opcua/.test(k))));
  `;
  return execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' }) === 'true';
}

describe('node-opcua', () => {
  it('is not loaded by connecting modules or by the SiLA 2 driver, only when an OPC UA module is connected', () => {
    expect(loadsNodeOpcua(['drivers/connect.ts', 'drivers/sila2/module-driver.ts', 'drivers/sila2/server.ts'])).toBe(false);
    expect(loadsNodeOpcua(['drivers/opcua/plain-module-driver.ts'])).toBe(true);
  }, 60_000);
});
