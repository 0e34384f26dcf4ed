/** OPC UA subscriptions: one per call, a monitored item per node; node-opcua re-creates them after a reconnection. */
import { AttributeIds, ClientMonitoredItem, ClientSubscription, TimestampsToReturn, type ClientSession, type DataValue } from 'node-opcua';

export interface MonitoredNode {
  nodeId: string;
  onChange: (dataValue: DataValue) => void;
}

export function monitor(session: ClientSession, items: MonitoredNode[], samplingIntervalMs: number): { close(): Promise<void> } {
  const subscription = ClientSubscription.create(session, {
    requestedPublishingInterval: Math.max(samplingIntervalMs, 50),
    requestedLifetimeCount: 600,
    requestedMaxKeepAliveCount: 10,
    maxNotificationsPerPublish: 0,
    publishingEnabled: true,
    priority: 10,
  });
  // A subscription still being created when the session closes emits 'error'; unheard, Node would end
  // the process. Reconnection re-creates live subscriptions, so nothing is lost by not rethrowing.
  subscription.on('error', () => undefined);
  for (const { nodeId, onChange } of items) {
    const item = ClientMonitoredItem.create(subscription, { nodeId, attributeId: AttributeIds.Value }, { samplingInterval: samplingIntervalMs, discardOldest: true, queueSize: 100 }, TimestampsToReturn.Both);
    item.on('changed', onChange);
    item.on('err', () => undefined);
  }
  return { close: async () => void (await subscription.terminate().catch(() => undefined)) };
}
