export { createMqttBridge, DEFAULT_MQTT_PREFIX, DEFAULT_MQTT_URL } from './mqtt-bridge.js'
export {
  assertMqttFilter,
  assertMqttTopic,
  filterToPattern,
  levelToWord,
  MAX_MQTT_TOPIC_BYTES,
  MESSAGE_EVENT_PREFIX,
  mqttTopicMatches,
  topicToWords,
  wordsToTopic,
  wordToLevel,
} from './topic-words.js'
export type {
  CreateMqttBridgeOptions,
  MqttBridge,
  MqttBridgeStats,
  MqttMessageData,
  MqttPublishParams,
  MqttQos,
  MqttReconnectOptions,
  MqttStatusResult,
  MqttSubscribeParams,
  MqttSubscribeResult,
  MqttUnsubscribeParams,
  MqttUnsubscribeResult,
} from './types.js'
