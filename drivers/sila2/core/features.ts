/**
 * The SiLA 2 standard's core features: their fully qualified identifiers, the definitions Workcell
 * serves (protos/features/), and which of them a server implements.
 */
import { fileURLToPath } from 'node:url';
import { featureFqi, sameFqi, type Feature } from '../feature.ts';

/** Every core feature of the standard, by identifier: the ones Workcell serves and the ones it only recognises. */
export const CORE_FEATURES = {
  SiLAService: 'org.silastandard/core/SiLAService/v1',
  LockController: 'org.silastandard/core/LockController/v1',
  CancelController: 'org.silastandard/core.commands/CancelController/v1',
  PauseController: 'org.silastandard/core.commands/PauseController/v1',
  SimulationController: 'org.silastandard/core/SimulationController/v1',
  ErrorRecoveryService: 'org.silastandard/core/ErrorRecoveryService/v2',
  AuthenticationService: 'org.silastandard/core/AuthenticationService/v1',
  AuthorizationService: 'org.silastandard/core/AuthorizationService/v1',
  ParameterConstraintsProvider: 'org.silastandard/core.commands/ParameterConstraintsProvider/v1',
} as const;

export type CoreFeatureName = keyof typeof CORE_FEATURES;

/** The core features Workcell's server implements, with their definitions on disk. */
export const SERVED_CORE_FEATURES = ['SiLAService', 'LockController', 'CancelController', 'PauseController', 'SimulationController', 'ErrorRecoveryService'] as const;
export type ServedCoreFeature = (typeof SERVED_CORE_FEATURES)[number];

export function coreFeatureFile(name: ServedCoreFeature): string {
  const major = CORE_FEATURES[name].slice(CORE_FEATURES[name].lastIndexOf('/v') + 2);
  return fileURLToPath(new URL(`../../../protos/features/${name}-v${major}_0.sila.xml`, import.meta.url));
}

/** The core feature a feature is (any major version counts), or undefined for any other feature. */
export function coreFeatureName(feature: Pick<Feature, 'originator' | 'category' | 'identifier' | 'featureVersion'>): CoreFeatureName | undefined {
  if (feature.originator !== 'org.silastandard') return undefined;
  const unversioned = featureFqi(feature).replace(/\/v\d+$/, '');
  return (Object.keys(CORE_FEATURES) as CoreFeatureName[]).find((name) => sameFqi(CORE_FEATURES[name].replace(/\/v\d+$/, ''), unversioned));
}

/** The core features among `features`, in the standard's order, and those missing. */
export function coreFeatureSummary(features: Feature[]): { implemented: CoreFeatureName[]; missing: CoreFeatureName[] } {
  const present = new Set(features.map(coreFeatureName).filter((n): n is CoreFeatureName => n !== undefined));
  const all = Object.keys(CORE_FEATURES) as CoreFeatureName[];
  return { implemented: all.filter((n) => present.has(n)), missing: all.filter((n) => !present.has(n)) };
}
