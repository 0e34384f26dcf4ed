/**
 * Live workcell data for dashboards, SCADA and MES over MQTT. The publisher only reads a run's database
 * (the log and the orchestrator's status view), so it runs beside the orchestrator as a service of its
 * own and sees entries from every process, operators' answers included. Each entry is published QoS 1,
 * in log order, under its batch (telemetry under its module and channel); the status snapshot is
 * retained, and `online` is retained with a last will so subscribers see a publisher that died. How far
 * it got is retained too (`cursor`), so a restarted publisher goes on where it stopped: an entry is
 * published again only if the publisher died between sending it and the cursor (subscribers dedupe by seq).
 * Nothing from the operators stream (password hashes) and no schedule text leaves the database.
 * `workcell publish` calls publishNew whenever the log's watcher (log-watcher.ts) sees another process commit.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { WALL_CLOCK, wallNow, type Clock } from '../drivers/clock.ts';
import { WORKCELL_STREAM, type EventLog, type LogEntry } from './event-log.ts';
import { OPERATORS_STREAM } from './signatures.ts';
import type { EntryData } from './entries.ts';

export interface MqttPublisherOptions {
  /** Topic prefix, e.g. `site-a/line-3`; default `workcell`. */
  prefix?: string;
  username?: string;
  password?: string;
  /** Publish entries already in the log too; by default it goes on after the broker's retained cursor of this log, else from now on. */
  fromStart?: boolean;
  /** The clock of its waits; the wall clock by default. */
  clock?: Clock;
}

/** The topic of an entry: under its batch, or under `workcell` for what belongs to no batch. */
export function topicOf(prefix: string, entry: LogEntry): string {
  if (entry.stream === WORKCELL_STREAM) return `${prefix}/workcell/${entry.type}`;
  if (entry.type === 'telemetry') return `${prefix}/batches/${entry.stream}/telemetry/${entry.data.module}/${entry.data.channel}`;
  return `${prefix}/batches/${entry.stream}/${entry.type}`;
}

function payloadOf(entry: LogEntry): string {
  const data = entry.type === 'batch.started' ? { ...entry.data, schedule: withoutText(entry.data.schedule) } : entry.data;
  return JSON.stringify({ seq: entry.seq, stream: entry.stream, streamSeq: entry.streamSeq, type: entry.type, at: new Date(entry.at).toISOString(), recordedAt: new Date(entry.recordedAt).toISOString(), formatVersion: entry.formatVersion, data, hash: entry.hash });
}

function withoutText({ text: _text, ...schedule }: EntryData<'batch.started'>['schedule']): Omit<EntryData<'batch.started'>['schedule'], 'text'> {
  return schedule;
}

export class MqttPublisher {
  private cursor: number;
  private statusWrittenAt = 0;
  /** Why the latest status view was not published (it does not match its schema), until a valid one is. */
  statusProblem: string | undefined;

  private constructor(
    private readonly client: MqttClient,
    private readonly log: EventLog,
    readonly prefix: string,
    cursor: number,
  ) {
    this.cursor = cursor;
  }

  /** Where the last publisher of this log stopped, from the broker's retained cursor, if it was this log. */
  private static async retainedCursor(client: MqttClient, topic: string, source: string, clock: Clock): Promise<number | undefined> {
    let found: number | undefined;
    const onMessage = (t: string, payload: Buffer) => {
      if (t !== topic || payload.length === 0) return;
      try {
        const cursor = JSON.parse(payload.toString()) as { source?: unknown; seq?: unknown };
        if (source && cursor.source === source && typeof cursor.seq === 'number') found = cursor.seq;
      } catch {
        // Not ours: start live.
      }
    };
    client.on('message', onMessage);
    await client.subscribeAsync(topic, { qos: 1 });
    // A retained message follows the subscription's acknowledgement at once.
    await clock.sleep(300);
    await client.unsubscribeAsync(topic);
    client.off('message', onMessage);
    return found;
  }

  static async connect(url: string, log: EventLog, options: MqttPublisherOptions = {}): Promise<MqttPublisher> {
    const prefix = (options.prefix ?? 'workcell').replace(/\/+$/, '');
    if (!prefix || /[+#]/.test(prefix)) throw new Error(`an MQTT topic prefix may not be empty or contain + or #: '${prefix}'`);
    const client = await mqtt.connectAsync(url, {
      username: options.username,
      password: options.password,
      clientId: `workcell-publisher-${log.id.slice(0, 8) || 'log'}-${process.pid}-${wallNow().toString(36)}`,
      will: { topic: `${prefix}/online`, payload: Buffer.from('false'), qos: 1, retain: true },
      reconnectPeriod: 1000,
      connectTimeout: 5000,
    });
    await client.publishAsync(`${prefix}/online`, 'true', { qos: 1, retain: true });
    const retained = options.fromStart ? undefined : await MqttPublisher.retainedCursor(client, `${prefix}/cursor`, log.id, options.clock ?? WALL_CLOCK);
    const cursor = options.fromStart ? 0 : retained !== undefined && retained <= log.lastSeq() ? retained : log.lastSeq();
    return new MqttPublisher(client, log, prefix, cursor);
  }

  /** Publishes the entries appended since the last call, and the status view if it changed; returns how many entries went out. */
  async publishNew(): Promise<number> {
    let published = 0;
    for (;;) {
      const page = this.log.page(this.cursor, 1000);
      if (page.length === 0) break;
      for (const entry of page) {
        // The cursor moves only past what the broker acknowledged: a failed publish is tried again.
        if (entry.stream !== OPERATORS_STREAM) {
          await this.client.publishAsync(topicOf(this.prefix, entry), payloadOf(entry), { qos: 1 });
          published++;
        }
        this.cursor = entry.seq;
      }
      await this.client.publishAsync(`${this.prefix}/cursor`, JSON.stringify({ source: this.log.id, seq: this.cursor }), { qos: 1, retain: true });
    }
    const status = this.log.readStatus();
    if (status && status.updatedAt !== this.statusWrittenAt) {
      // A status that does not match its schema is not passed on: the retained one stays the last valid one.
      this.statusProblem = status.problem;
      if (status.value) await this.client.publishAsync(`${this.prefix}/status`, JSON.stringify({ ...status.value, updatedAt: new Date(status.updatedAt).toISOString() }), { qos: 1, retain: true });
      this.statusWrittenAt = status.updatedAt;
    }
    return published;
  }

  async close(): Promise<void> {
    await this.client.publishAsync(`${this.prefix}/online`, 'false', { qos: 1, retain: true }).catch(() => undefined);
    await this.client.endAsync();
  }
}
