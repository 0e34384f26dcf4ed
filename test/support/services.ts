/**
 * The local services some tests talk to. In CI (CI=true) a missing service fails the test; on a
 * developer machine without it the test is skipped, saying which service and why.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestContext } from 'vitest';
import { inSchema } from '../../orchestrator/postgres-mirror.ts';

export const POSTGRES_URL = process.env.WORKCELL_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

async function needService(ctx: TestContext, name: string, probe: () => Promise<void>): Promise<void> {
  try {
    await probe();
  } catch (error) {
    const why = `${name} is not reachable: ${(error as Error).message}`;
    if (process.env.CI) throw new Error(`${why} (CI runs every service test)`);
    ctx.skip(why);
  }
}

/**
 * A schema of its own in the test PostgreSQL, so that test files running at once do not see each
 * other's tables; returns a connection string whose search_path is that schema, and a cleanup.
 */
export async function postgresSchema(ctx: TestContext): Promise<{ url: string; drop(): Promise<void> }> {
  const schema = `workcell_test_${randomBytes(6).toString('hex')}`;
  await needService(ctx, `PostgreSQL at ${POSTGRES_URL}`, async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA ${schema}`);
    } finally {
      await client.end();
    }
  });
  return {
    url: inSchema(POSTGRES_URL, schema),
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
    },
  };
}

export const MQTT_URL = process.env.WORKCELL_TEST_MQTT ?? 'mqtt://127.0.0.1:1883';

/** A client of the test MQTT broker subscribed to `topic`, collecting what arrives. */
export async function mqttSubscriber(ctx: TestContext, topic: string): Promise<{ messages: Array<{ topic: string; payload: string; retain: boolean }>; clearRetained(topics: string[]): Promise<void>; close(): Promise<void> }> {
  const { default: mqtt } = await import('mqtt');
  let client: import('mqtt').MqttClient | undefined;
  await needService(ctx, `the MQTT broker at ${MQTT_URL}`, async () => {
    client = await mqtt.connectAsync(MQTT_URL, { connectTimeout: 3000, reconnectPeriod: 0 });
  });
  const messages: Array<{ topic: string; payload: string; retain: boolean }> = [];
  client!.on('message', (t, payload, packet) => messages.push({ topic: t, payload: payload.toString(), retain: packet.retain }));
  await client!.subscribeAsync(topic, { qos: 1 });
  return {
    messages,
    // An empty retained message removes what the broker keeps, so test runs leave nothing behind.
    clearRetained: async (topics) => {
      for (const t of topics) await client!.publishAsync(t, '', { qos: 1, retain: true });
    },
    close: () => client!.endAsync(),
  };
}
