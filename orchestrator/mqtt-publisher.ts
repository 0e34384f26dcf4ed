/**
 * Live workcell data for dashboards, SCADA and MES over MQTT. The publisher only reads a run's database
 * (the log and the orchestrator's status view), so it runs beside the orchestrator as a service of its
 * own and sees entries from every process, operators' answers included. Each entry is published once,
 * QoS 1, in log order, under its batch (telemetry under its module and channel); the status snapshot is
 * retained, and `online` is retained with a last will so subscribers see a publisher that died.
 * Nothing from the operators stream (password hashes) and no schedule text leaves the database.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { WORKCELL_STREAM, type EventLog, type LogEntry } from './event-log.ts';
import { OPERATORS_STREAM } from './signatures.ts';

export interface MqttPublisherOptions {
  /** Topic prefix, e.g. `site-a/line-3`; default `workcell`. */
  prefix?: string;
  username?: string;
  password?: string;
  /** Publish entries already in the log too; by default only those appended from now on. */
  fromStart?: boolean;
}

/** The topic of an entry: under its batch, or under `workcell` for what belongs to no batch. */
export function topicOf(prefix: string, entry: LogEntry): string {
  if (entry.stream === WORKCELL_STREAM) return `${prefix}/workcell/${entry.type}`;
  if (entry.type === 'telemetry') return `${prefix}/batches/${entry.stream}/telemetry/${String(entry.data.module)}/${String(entry.data.channel)}`;
  return `${prefix}/batches/${entry.stream}/${entry.type}`;
}

function payloadOf(entry: LogEntry): string {
  const data = { ...entry.data };
  if (entry.type === 'batch.started' && data.schedule && typeof data.schedule === 'object') {
    const { text: _text, ...schedule } = data.schedule as Record<string, unknown>;
    data.schedule = schedule;
  }
  return JSON.stringify({ seq: entry.seq, stream: entry.stream, streamSeq: entry.streamSeq, type: entry.type, at: new Date(entry.at).toISOString(), recordedAt: new Date(entry.recordedAt).toISOString(), data, hash: entry.hash });
}

export class MqttPublisher {
  private cursor: number;
  private statusWrittenAt = 0;

  private constructor(
    private readonly client: MqttClient,
    private readonly log: EventLog,
    readonly prefix: string,
    fromStart: boolean,
  ) {
    this.cursor = fromStart ? 0 : log.lastSeq();
  }

  static async connect(url: string, log: EventLog, options: MqttPublisherOptions = {}): Promise<MqttPublisher> {
    const prefix = (options.prefix ?? 'workcell').replace(/\/+$/, '');
    if (!prefix || /[+#]/.test(prefix)) throw new Error(`an MQTT topic prefix may not be empty or contain + or #: '${prefix}'`);
    const client = await mqtt.connectAsync(url, {
      username: options.username,
      password: options.password,
      clientId: `workcell-publisher-${log.id.slice(0, 8) || 'log'}-${process.pid}-${Date.now().toString(36)}`,
      will: { topic: `${prefix}/online`, payload: Buffer.from('false'), qos: 1, retain: true },
      reconnectPeriod: 1000,
      connectTimeout: 5000,
    });
    await client.publishAsync(`${prefix}/online`, 'true', { qos: 1, retain: true });
    return new MqttPublisher(client, log, prefix, options.fromStart ?? false);
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
    }
    const status = this.log.readStatus().find((s) => s.key === 'orchestrator');
    if (status && status.updatedAt !== this.statusWrittenAt) {
      await this.client.publishAsync(`${this.prefix}/status`, JSON.stringify({ ...(status.value as object), updatedAt: new Date(status.updatedAt).toISOString() }), { qos: 1, retain: true });
      this.statusWrittenAt = status.updatedAt;
    }
    return published;
  }

  async close(): Promise<void> {
    await this.client.publishAsync(`${this.prefix}/online`, 'false', { qos: 1, retain: true }).catch(() => undefined);
    await this.client.endAsync();
  }
}
