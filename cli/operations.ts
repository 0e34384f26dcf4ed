/** `workcell hold` and `workcell module`: an operator acts on a running workcell from any terminal, signed. */
import { userInfo } from 'node:os';
import { loadWorkcell } from '../config/validate.ts';
import { WALL_CLOCK, wallNow } from '../drivers/clock.ts';
import type { EventLog } from '../orchestrator/event-log.ts';
import { requestHold, requestModuleRefresh, setModuleService } from '../orchestrator/operator-actions.ts';
import { printable } from '../config/printable.ts';
import { lastRunSettings, workcellNow } from '../orchestrator/run-settings.ts';
import type { Signature } from '../orchestrator/signatures.ts';
import { readSigner, type SignerOptions } from './passwords.ts';
import { withDatabase } from './database.ts';
import { UsageError } from './usage.ts';

type SignedOptions = SignerOptions & { db?: string };

function signedLine(signature: Signature): string {
  return printable(`Signed by ${signature.printedName} (${signature.user}) at ${signature.signedAt}: ${signature.meaning}.`);
}

/** `workcell hold BATCH`. */
export async function hold([batchId]: [string], options: SignedOptions): Promise<number> {
  const { reason, signer } = await readSigner(options, 'hold');
  return withDatabase(options.db, { readonly: false }, (log) => {
    const entry = requestHold(log, batchId, { reason }, signer, workcellNow(log));
    process.stdout.write(`${printable(`Recorded: hold ${batchId} (${reason}). The running orchestrator holds it at its next safe point; answer the hold with workcell resolve.`)}\n${signedLine(entry.data.signature)}\n`);
    return 0;
  });
}

/** `workcell module MODULE ACTION`. */
export async function moduleAction([moduleId, action]: [string, string], options: SignedOptions): Promise<number> {
  if (action === 'refresh') return withDatabase(options.db, { readonly: false }, (log) => refresh(log, moduleId));
  if (action !== 'out-of-service' && action !== 'in-service') throw new UsageError(`unknown module action '${action}': out-of-service, in-service or refresh`);
  const { reason, signer } = await readSigner(options, action === 'in-service' ? 'return to service' : 'removal from service');
  return withDatabase(options.db, { readonly: false }, (log) => {
    const entry = setModuleService(log, moduleId, { inService: action === 'in-service', reason, knownModules: modulesOf(log) }, signer, workcellNow(log));
    const what = action === 'in-service' ? `${moduleId} is back in service: it may be allocated again` : `${moduleId} is out of service: no batch is allocated to it until it is returned (workcell module ${moduleId} in-service)`;
    process.stdout.write(`${printable(`Recorded: ${what} (${reason}).`)}\n${signedLine(entry.data.signature)}\n`);
    return 0;
  });
}

/** The modules of the layout the log's last run used. */
function modulesOf(log: EventLog): string[] {
  const settings = lastRunSettings(log);
  if (!settings) throw new Error(`${log.file} records no run: there is no workcell to act on`);
  return loadWorkcell(settings.layoutFile).layout.model.layout.modules.map((m) => m.id);
}

/** How long `module M refresh` waits for the orchestrator's answer; a status older than STALE_STATUS_MS says none runs. */
const REFRESH_WAIT_MS = 15_000;
const STALE_STATUS_MS = 10_000;

/**
 * The state the running orchestrator shows for a module after it has re-read it, or why there is none.
 * It waits on the log's watcher (the orchestrator's answer and its status view are commits of another
 * process), on the wall clock: an operator waits in real time whatever the workcell clock's speed.
 */
async function refresh(log: EventLog, moduleId: string): Promise<number> {
  const asked = requestModuleRefresh(log, moduleId, modulesOf(log), userInfo().username, workcellNow(log));
  const noOrchestrator = `Recorded the request; no orchestrator is running on ${log.file}, so nothing re-reads ${moduleId} now. Every start and resume reads every module.`;
  const answer = (): { text: string; status: number } | undefined => {
    const view = log.readStatus();
    const live = view?.value;
    if (!view || !live || live.final || wallNow() - view.updatedAt > STALE_STATUS_MS) return { text: noOrchestrator, status: 1 };
    const reconciled = log.since(asked.seq, ['module.reconciled']).find((e) => e.data.module === moduleId);
    if (reconciled) return { text: printable(reconciled.data.message), status: 0 };
    // The status view is rewritten several times a second; one written well after the request has the re-read state.
    if (view.updatedAt > asked.recordedAt + 3000) return { text: `${moduleId} is ${live.modules.find((m) => m.id === moduleId)?.state ?? 'unknown'}, as the orchestrator believed.`, status: 0 };
    return undefined;
  };
  const outcome = answer() ?? (await new Promise<{ text: string; status: number }>((resolve) => {
    const done = (found: { text: string; status: number }) => {
      stopWatching();
      WALL_CLOCK.clearTimeout(deadline);
      resolve(found);
    };
    const stopWatching = log.watchOthers(() => {
      const found = answer();
      if (found) done(found);
    }, { clock: WALL_CLOCK, everyMs: 200 });
    // An orchestrator that stopped writes nothing more: at the deadline its status is stale, and says so.
    const deadline = WALL_CLOCK.setTimeout(() => done(answer() ?? { text: `The orchestrator has not answered within ${REFRESH_WAIT_MS / 1000} s; ${moduleId} is re-read when it does.`, status: 1 }), REFRESH_WAIT_MS);
  }));
  process.stdout.write(`${outcome.text}\n`);
  return outcome.status;
}
