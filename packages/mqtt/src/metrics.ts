import { type ComponentMetrics, componentMetrics, metricOf } from '@core/contracts'
import type { MqttBridgeStats } from './types.js'

/**
 * The Prometheus metrics of an MQTT bridge, read from its counters when scraped. The bridge
 * adds them to `kernel.metrics` when it is created.
 *
 * - `core_mqtt_messages_received_total`, `core_mqtt_messages_published_total`: MQTT messages in
 *   and out;
 * - `core_mqtt_messages_dropped_total`: messages not sent (broker down, refused) or not turned
 *   into a bus event; `core_mqtt_messages_rejected_total`: bad input refused;
 * - `core_mqtt_reconnects_total`: connections made after the first; `core_mqtt_connected`: 1
 *   while connected, else 0;
 * - `core_mqtt_calls_total`, `core_mqtt_call_errors_total`: service calls served over MQTT and
 *   those answered with an error;
 * - `core_mqtt_signed_calls_total`, `core_mqtt_signature_refused_total{reason}`: calls
 *   authenticated by a signature, and signed calls refused by reason;
 * - `core_mqtt_messages_in_flight`: inbound messages in progress now.
 *
 * @param stats - Reads the bridge's counters (`bridge.stats`).
 * @returns Its {@link ComponentMetrics}.
 * @see Prometheus text exposition format 0.0.4
 * @internal
 */
export function createMqttMetrics(stats: () => MqttBridgeStats): ComponentMetrics {
  const one = (
    name: string,
    help: string,
    type: 'counter' | 'gauge',
    read: (s: MqttBridgeStats) => number,
  ) => metricOf(name, help, type, () => [[{}, read(stats())]])
  return componentMetrics([
    one(
      'core_mqtt_messages_received_total',
      'MQTT messages received',
      'counter',
      (s) => s.received,
    ),
    one(
      'core_mqtt_messages_published_total',
      'MQTT messages published',
      'counter',
      (s) => s.published,
    ),
    one(
      'core_mqtt_messages_dropped_total',
      'MQTT messages not sent, or not turned into a bus event',
      'counter',
      (s) => s.dropped,
    ),
    one(
      'core_mqtt_messages_rejected_total',
      'Bad MQTT input refused (non-JSON payload, bad reply topic, malformed call)',
      'counter',
      (s) => s.rejected,
    ),
    one(
      'core_mqtt_reconnects_total',
      'Connections to the MQTT broker made after the first',
      'counter',
      (s) => Math.max(0, s.connects - 1),
    ),
    one('core_mqtt_connected', '1 while connected to the MQTT broker, else 0', 'gauge', (s) =>
      s.connected ? 1 : 0,
    ),
    one('core_mqtt_calls_total', 'Service calls served over MQTT', 'counter', (s) => s.calls),
    one(
      'core_mqtt_call_errors_total',
      'Service calls over MQTT answered (or dropped) with an error',
      'counter',
      (s) => s.callErrors,
    ),
    one(
      'core_mqtt_signed_calls_total',
      'Service calls over MQTT authenticated by a valid signature',
      'counter',
      (s) => s.signedCalls,
    ),
    metricOf(
      'core_mqtt_signature_refused_total',
      'Signed MQTT calls refused, by reason (bad-signature, unknown-key, expired, future, replayed, wrong-service, …)',
      'counter',
      () => Object.entries(stats().signatureRefused).map(([reason, n]) => [{ reason }, n]),
    ),
    one(
      'core_mqtt_messages_in_flight',
      'Inbound MQTT messages in progress',
      'gauge',
      (s) => s.inFlight,
    ),
  ])
}
