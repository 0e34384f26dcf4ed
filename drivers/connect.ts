/** The module interface for a module of a layout, over whatever protocol the layout names. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LayoutModel } from '../config/layout.ts';
import { SilaModuleDriver } from './sila2/module-driver.ts';
import { ModuleError, type ModuleDriver } from './module.ts';

export async function connectModule(layout: LayoutModel, layoutDirectory: string, moduleId: string, environment: NodeJS.ProcessEnv = process.env): Promise<ModuleDriver> {
  const module = layout.modules.get(moduleId);
  if (!module) throw new Error(`layout ${layout.id} has no module '${moduleId}'`);
  const kind = layout.catalogue.kind(module.kind)!;
  const { sila2, opcua } = module.connection;
  if (sila2) {
    let ca: string | undefined;
    if (sila2.tls?.ca) {
      const file = resolve(layoutDirectory, sila2.tls.ca);
      try {
        ca = readFileSync(file, 'utf8');
      } catch {
        throw new ModuleError(moduleId, 'connection', `cannot read the CA file ${file} named in the layout (tls.ca)`);
      }
    }
    return SilaModuleDriver.connect(moduleId, kind, { host: sila2.host, port: sila2.port, ca, insecure: sila2.insecure }, sila2.mapping);
  }
  // node-opcua takes seconds of CPU to load: a workcell without OPC UA modules never loads it.
  const { opcuaOptionsFromLayout, plainMappingFromLayout } = await import('./opcua/from-layout.ts');
  const options = opcuaOptionsFromLayout(module, layoutDirectory, environment);
  if (opcua?.model === 'plain') return (await import('./opcua/plain-module-driver.ts')).PlainOpcUaModuleDriver.connect(moduleId, kind, options, plainMappingFromLayout(module)!);
  return (await import('./opcua/lads-module-driver.ts')).LadsModuleDriver.connect(moduleId, kind, options);
}
