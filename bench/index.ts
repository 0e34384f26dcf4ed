/** `npm run bench`: every benchmark, printed as tables with the machine they ran on. */
import { machineLine } from './harness.ts';
import { siLA2Benchmark } from './sila2.ts';
import { opcuaBenchmark } from './opcua.ts';
import { simulationBenchmark } from './simulation.ts';
import { webBenchmark } from './web.ts';
import { eventLogBenchmark, mirrorBenchmark, schedulingBenchmark } from './orchestrator.ts';
import { twinCampaignBenchmark, twinLongCampaignBenchmark } from './twin.ts';
import { planBenchmark } from './plan.ts';

const durationMs = Number(process.env.WORKCELL_BENCH_SECONDS ?? 3) * 1000;
const concurrency = Number(process.env.WORKCELL_BENCH_CONCURRENCY ?? 16);
const rounds = Number(process.env.WORKCELL_BENCH_ROUNDS ?? 3);

console.log(`Workcell benchmarks; ${machineLine()}`);
console.log(await siLA2Benchmark({ durationMs, concurrency, rounds }));
console.log(await opcuaBenchmark({ durationMs, concurrency, rounds, subscriptionSeconds: Number(process.env.WORKCELL_BENCH_SUBSCRIPTION_SECONDS ?? 10) }));
console.log(await simulationBenchmark({ moduleCounts: [50, 200, 400], scheduleSeconds: Number(process.env.WORKCELL_BENCH_SCHEDULE_SECONDS ?? 8) }));
console.log(schedulingBenchmark(Number(process.env.WORKCELL_BENCH_DECISIONS ?? 5000)));
console.log(eventLogBenchmark(Number(process.env.WORKCELL_BENCH_LOG_SECONDS ?? 3)));
console.log(await mirrorBenchmark(Number(process.env.WORKCELL_BENCH_MIRROR_ENTRIES ?? 20_000), process.env.WORKCELL_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'));
// The whole CAR-T campaign in virtual time (twice: the digest must repeat), beside it at 20,000x: there 1 ms
// of host latency is 20 s of process time, so robot moves and 15-minute hold times are at the edge of what
// that clock can resolve (WORKCELL_BENCH_TIME_SCALE to slow it).
console.log(await twinCampaignBenchmark(Number(process.env.WORKCELL_BENCH_TIME_SCALE ?? 20_000)));
console.log(await twinLongCampaignBenchmark(Number(process.env.WORKCELL_BENCH_WEEKS ?? 26)));
// `workcell plan` end to end: scenarios through the twin and the figures read from their logs.
console.log(await planBenchmark());
// The web HMI: a batch record page in Chromium, over a database of 32 CAR-T batches (~490k entries).
console.log(await webBenchmark({ database: process.env.WORKCELL_BENCH_WEB_DATABASE }));
process.exit(0);
