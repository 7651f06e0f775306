export {
  createMqttBridge,
  DEFAULT_MQTT_MAX_IN_FLIGHT,
  DEFAULT_MQTT_PREFIX,
  DEFAULT_MQTT_URL,
} from './mqtt-bridge.js'
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
