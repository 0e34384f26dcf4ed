/**
 * The 16-lane, 32-patient campaign of bench/twin.ts, once: wall and CPU time, entries and digest, for
 * profiling (`node --cpu-prof --cpu-prof-dir DIR --import tsx bench/profile-twin.ts`, then
 * `node --import tsx bench/cpu-profile-top.ts DIR/*.cpuprofile`). WORKCELL_PROFILE_RUNS runs it more than once; the
 * layout is written to the same path every time, so the digest of one version can be compared with another's.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sixteenLaneCampaign, timedTwin } from './twin.ts';

// One directory for the layout, whatever the process: the digest can be compared from one run to the next.
const dir = join(tmpdir(), 'workcell-profile-twin');
mkdirSync(dir, { recursive: true });
const { layoutFile, arrivals, seed } = sixteenLaneCampaign(dir);
const runs = Number(process.env.WORKCELL_PROFILE_RUNS ?? 1);
for (let i = 0; i < runs; i++) {
  const run = await timedTwin(layoutFile, arrivals, seed);
  console.log(`wall ${run.wallSeconds.toFixed(2)} s, CPU ${run.cpuSeconds.toFixed(2)} s, ${run.result.events} entries, ${run.deviations} deviations (${run.holdTimeDeviations} hold time), ${run.result.outcome}, digest ${run.result.digest}`);
}
