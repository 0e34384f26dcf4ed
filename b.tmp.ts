import { workcellBenchmark } from '/work/main/bench/orchestrator.ts';
import { machineLine } from '/work/main/bench/harness.ts';
console.log(machineLine());
try { console.log(await workcellBenchmark(20_000)); } catch (e) { console.log('ERR', e); }
process.exit(0);
