/**
 * The API described as OpenAPI 3.1, generated from the routes' own TypeBox schemas and the log's entry
 * schemas (orchestrator/entries/): what the server validates by is what the document says.
 */
import type { TSchema } from '@sinclair/typebox';
import { ENTRY_FORMAT_VERSION, ENTRY_SCHEMAS, type EntryType } from '../../orchestrator/entries/index.ts';
import { BACKGROUND_HEADER, type ApiRoute } from './api.ts';
import { EntrySchema, ErrorBody } from './schemas.ts';

type Json = Record<string, unknown>;

/** Plain JSON of a schema, the generic entry replaced by a reference to the typed one. */
function plain(schema: TSchema): Json {
  const walk = (value: unknown): unknown => {
    if (value === EntrySchema) return { $ref: '#/components/schemas/Entry' };
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  return JSON.parse(JSON.stringify(walk(schema))) as Json;
}

function entryComponents(): Json {
  const types = Object.keys(ENTRY_SCHEMAS).sort() as EntryType[];
  // The envelope itself, not the reference plain() makes of it.
  const envelope = JSON.parse(JSON.stringify(EntrySchema)) as Json;
  const properties = envelope.properties as Json;
  const typed = Object.fromEntries(
    types.map((type) => [
      `entry.${type}`,
      { ...envelope, title: type, description: ENTRY_SCHEMAS[type].description, properties: { ...properties, type: { const: type }, data: plain(ENTRY_SCHEMAS[type]) }, required: ['seq', 'stream', 'streamSeq', 'type', 'at', 'recordedAt', 'data', 'previousHash', 'hash'] },
    ]),
  );
  return {
    Entry: { description: `A log entry, one of ${types.length} types (entry format ${ENTRY_FORMAT_VERSION}); \`type\` says what \`data\` holds`, oneOf: types.map((type) => ({ $ref: `#/components/schemas/entry.${type}` })), discriminator: { propertyName: 'type', mapping: Object.fromEntries(types.map((t) => [t, `#/components/schemas/entry.${t}`])) } },
    ...typed,
    Error: plain(ErrorBody),
  };
}

const json = (schema: Json) => ({ 'application/json': { schema } });
const refusal = (description: string) => ({ description, content: json({ $ref: '#/components/schemas/Error' }) });

const BACKGROUND_PARAMETER = {
  name: BACKGROUND_HEADER,
  in: 'header',
  required: false,
  description: "1: asked by a screen on its own (a refetch on a live event), not for a person's action; the session is checked but its idle time not restarted, so that an unattended screen times out",
  schema: { const: '1' },
};

export function openApiDocument(routes: readonly ApiRoute[], server: { version: string }): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const parameters = [
      ...Object.entries((route.params?.properties ?? {}) as Record<string, TSchema>).map(([name, schema]) => ({ name, in: 'path', required: true, schema: plain(schema) })),
      ...Object.entries((route.query?.properties ?? {}) as Record<string, TSchema>).map(([name, schema]) => ({ name, in: 'query', required: (route.query?.required as string[] | undefined)?.includes(name) ?? false, schema: plain(schema) })),
      ...(route.access !== 'public' && route.countsAsUse !== false ? [BACKGROUND_PARAMETER] : []),
    ];
    const mutating = route.method !== 'GET';
    const guarded = route.access !== 'public';
    const responses: Json = {
      [route.status ?? 200]: route.response ? { description: route.status === 202 ? 'Accepted: the orchestrator does it' : 'OK', content: json(plain(route.response)) } : { description: 'A stream of server-sent events', content: { 'text/event-stream': { schema: { type: 'string' } } } },
      400: refusal('The request does not match its schema'),
      ...(route.access === 'public' ? {} : { 401: refusal('No session, or it ended') }),
      ...(guarded ? { 403: refusal('A role this user lacks, a missing or wrong CSRF token, or a refused signature') } : {}),
      ...(mutating ? { 409: refusal('The operation refused: the state of the workcell does not allow it') } : {}),
    };
    if (route.path === '/api/session' && route.method === 'POST') {
      responses[401] = refusal('Unknown user or wrong password, or the operator was disabled');
      responses[429] = { ...refusal('The user id is locked (the answer says until when), or this client address made too many login attempts'), headers: { 'Retry-After': { description: 'Seconds until an attempt may succeed', schema: { type: 'integer', minimum: 1 } } } };
    }
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = {
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      operationId: `${route.method.toLowerCase()} ${route.path}`,
      'x-roles': route.access === 'public' || route.access === 'session' ? route.access : [...route.access],
      ...(parameters.length ? { parameters } : {}),
      ...(route.body ? { requestBody: { required: true, content: json(plain(route.body)) } } : {}),
      ...(guarded ? { security: [{ session: [] }] } : { security: [] }),
      ...(mutating && guarded ? { 'x-csrf': 'the header x-csrf-token must carry the session’s CSRF token' } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Workcell HMI API', version: server.version, description: 'The API of `workcell serve`: status, holds and their signed answers, batches and records, reviews, operators, the entry stream. Log in with POST /api/session; send x-csrf-token on every mutating request. Entries are typed by the same schemas as the log (docs/records/entries.schema.json).' },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    paths,
    components: { schemas: entryComponents(), securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: '__Host-workcell-session', description: 'The session cookie POST /api/session sets' } } },
  };
}
