/**
 * Property tests run a moderate number of cases in `npm test`; set WORKCELL_PROPERTY_RUNS for long runs
 * (e.g. WORKCELL_PROPERTY_RUNS=50000 npm test).
 */
export function propertyRuns(defaultRuns: number): number {
  const fromEnv = Number(process.env.WORKCELL_PROPERTY_RUNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : defaultRuns;
}
