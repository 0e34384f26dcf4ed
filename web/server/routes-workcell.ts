/** The workcell now and as it goes: status, holds and their answers, the entry stream, the live events, the timeline. */
import { Type } from '@sinclair/typebox';
import { resolveHold } from '../../orchestrator/operator-actions.ts';
import { ApiError, operation, route, signedInBy, type ApiRoute } from './api.ts';
import { visibleEntries } from './live.ts';
import { Cursor, EntryPage, HoldAnswer, HoldAnswered, HoldParams, HoldView, Overview, TimelineQuery, TimelineResponse } from './schemas.ts';
import { timeline } from './timeline.ts';

export const workcellRoutes: ApiRoute[] = [
  route({
    method: 'GET',
    path: '/api/status',
    summary: 'The workcell now: modules, batches (step, phase, ETA, why waiting), open holds, alarms',
    access: 'session',
    response: Overview,
    handle: ({ context }) => context.status.overview(),
  }),
  route({
    method: 'GET',
    path: '/api/holds',
    summary: 'Open holds with their typed menu and what is at stake',
    access: 'session',
    response: Type.Array(HoldView),
    handle: ({ context }) => context.status.holds(),
  }),
  route({
    method: 'POST',
    path: '/api/holds/{batch}/answer',
    summary: "Answer a batch's open hold, signed (password re-entered, 21 CFR 11.200)",
    description: 'The same signed operation as `workcell resolve`. `option` is one of the menu options of GET /api/holds: retry, skip, abort, or continue:IDENTIFIER for one of the device\'s options. The running orchestrator acts on it within a fraction of a second; with none running, the next resume does.',
    access: ['operator', 'qa'],
    params: HoldParams,
    body: HoldAnswer,
    response: HoldAnswered,
    handle({ params, body, signedIn, context }) {
      const hold = context.status.holds().find((h) => h.batchId === params.batch);
      if (!hold) throw new ApiError(409, `batch ${params.batch} has no open hold`);
      const choice = hold.menu.find((m) => m.option === body.option);
      if (!choice) throw new ApiError(409, `the hold of ${params.batch} offers ${hold.menu.map((m) => m.option).join(', ')}, not '${body.option}'`);
      const answer = { action: choice.action, reason: body.reason, option: choice.deviceOption, hold: body.hold };
      const entry = operation(() => resolveHold(context.log, params.batch, answer, { user: signedIn.operator.user, password: body.password }, context.status.now()));
      return { batchId: params.batch, step: entry.data.step, action: entry.data.action, option: entry.data.option, approves: entry.data.approves, signature: entry.data.signature };
    },
  }),
  route({
    method: 'GET',
    path: '/api/entries',
    summary: 'The entry stream after a cursor: typed entries and the next cursor',
    description: 'Entries of every stream but `operators` (its entries hold password hashes: see /api/audit and /api/operators). `next` is the position to ask after next; it passes over left-out entries.',
    access: 'session',
    query: Cursor,
    response: EntryPage,
    handle({ query, context }) {
      const after = query.after ?? 0;
      const page = context.log.page(after, query.limit ?? 500);
      return { entries: visibleEntries(page), next: page.at(-1)?.seq ?? after, last: context.log.lastSeq() };
    },
  }),
  route({
    method: 'GET',
    path: '/api/events',
    summary: 'Server-sent events: `status` whenever the log changes, `entry` events after a cursor',
    description: '`status` carries what GET /api/status answers, sent at once and within a second of any change; the stream ends within seconds of its session (logout, idle time, password changed, operator disabled). Opening or keeping the stream is no use of the session: it does not restart the idle time. `entry` events (id: the log position) follow the cursor given as Last-Event-ID or ?after=SEQ; without one, only entries appended from now on.',
    access: 'session',
    countsAsUse: false,
    query: Type.Object({ after: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }),
    response: undefined,
    handle({ query, request, reply, signedIn, context }) {
      const lastEventId = request.headers['last-event-id'];
      const fromHeader = typeof lastEventId === 'string' && /^\d+$/.test(lastEventId) ? Number(lastEventId) : undefined;
      reply.hijack();
      reply.raw.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      context.live.add(reply.raw, fromHeader ?? query.after, () => signedInBy(context, signedIn.token, { countsAsUse: false }) !== undefined);
    },
  }),
  route({
    method: 'GET',
    path: '/api/timeline',
    summary: 'Gantt data: per module, a bar per step (batch, step, start, end) and per line clearance',
    access: 'session',
    query: TimelineQuery,
    response: TimelineResponse,
    handle: ({ query, context }) => timeline(context.log, query),
  }),
];
