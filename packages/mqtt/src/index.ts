/// <reference types="node" preserve="true" />
/**
 * MQTT bridge for the Core Runtime kernel: plugins publish and subscribe through services and bus
 * events; events, state and service calls on MQTT 5 and 3.1.1.
 *
 * @module @core/mqtt
 */
export {
  createMqttBridge,
  DEFAULT_MQTT_MAX_IN_FLIGHT,
  DEFAULT_MQTT_MAX_PACKET_BYTES,
  DEFAULT_MQTT_PREFIX,
  DEFAULT_MQTT_URL,
} from './mqtt-bridge.js'
export { SIGNED_CALL_TYPE } from './signed-call.js'
export type {
  AuthorizeMqttCall,
  CreateMqttBridgeOptions,
  MqttBridge,
  MqttBridgeStats,
  MqttCallAuthorization,
  MqttCallMode,
  MqttPublishParams,
  MqttQos,
  MqttReconnectOptions,
  MqttStatusResult,
  MqttSubscribeParams,
  MqttSubscribeResult,
  MqttUnsubscribeParams,
  MqttUnsubscribeResult,
} from './types.js'
