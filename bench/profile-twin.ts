/**
 * The 16-lane, 32-patient campaign of bench/twin.ts on its own: wall and CPU time, entries and digest of
 * each run, for finding where its time goes. WORKCELL_PROFILE_RUNS runs it more than once in the process;
 * WORKCELL_PROFILE_OUT=FILE.cpuprofile writes a V8 CPU profile of the runs alone (not of loading the code),
 * which `node --import tsx bench/cpu-profile-top.ts FILE.cpuprofile` sums up. The layout is written to the
 * same path every time, so the digest of one version of the code can be compared with another's.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sixteenLaneCampaign, timedTwin } from './twin.ts';

// One directory for the layout, whatever the process: its path is in every batch's record, so in the digest.
const dir = join(tmpdir(), 'workcell-profile-twin');
mkdirSync(dir, { recursive: true });
const { layoutFile, arrivals, seed } = sixteenLaneCampaign(dir);
const runs = Number(process.env.WORKCELL_PROFILE_RUNS ?? 1);
const profileFile = process.env.WORKCELL_PROFILE_OUT;
const session = profileFile ? new Session() : undefined;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
for (let i = 0; i < runs; i++) {
  const run = await timedTwin(layoutFile, arrivals, seed);
  console.log(`wall ${run.wallSeconds.toFixed(2)} s, CPU ${run.cpuSeconds.toFixed(2)} s, ${run.result.events} entries, ${run.deviations} deviations (${run.holdTimeDeviations} hold time), ${run.result.outcome}, digest ${run.result.digest}`);
}
if (session && profileFile) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(profileFile, JSON.stringify(profile));
  session.disconnect();
}
