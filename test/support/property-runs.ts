/**
 * Property tests run a moderate number of cases in `npm test`; set WORKCELL_PROPERTY_RUNS for long runs
 * (e.g. WORKCELL_PROPERTY_RUNS=50000 npm test). To replay a failure reported elsewhere (CI, say), set
 * WORKCELL_PROPERTY_SEED and WORKCELL_PROPERTY_PATH to the `seed` and `path` fast-check printed.
 */
export function propertyRuns(defaultRuns: number): number {
  const fromEnv = Number(process.env.WORKCELL_PROPERTY_RUNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : defaultRuns;
}

/** fast-check parameters: the run count, plus the seed and path of a failure to replay when given. */
export function propertyParameters(defaultRuns: number): { numRuns: number; seed?: number; path?: string } {
  const seed = Number(process.env.WORKCELL_PROPERTY_SEED);
  const path = process.env.WORKCELL_PROPERTY_PATH;
  return {
    numRuns: propertyRuns(defaultRuns),
    ...(process.env.WORKCELL_PROPERTY_SEED && Number.isInteger(seed) ? { seed } : {}),
    ...(path ? { path } : {}),
  };
}
