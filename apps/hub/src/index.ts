export type { HubCluster } from './cluster.js'
export type {
  ConfigOrigin,
  HubArgs,
  HubConfig,
  LoadHubConfigOptions,
  OverridableField,
  StorageConfig,
} from './config.js'
export {
  APP_DIR,
  DEFAULT_CONFIG_FILES,
  ENV_OVERRIDES,
  loadHubConfig,
  parseHubArgs,
  USAGE,
} from './config.js'
export type { HubConfigFile, LogLevel } from './config-schema.js'
export { HubConfigSchema, LOG_LEVELS, MIN_ADMIN_TOKEN_LENGTH } from './config-schema.js'
export type { HttpSettings } from './http-config.js'
export { DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT } from './http-config.js'
export type { RunningHub, StartHubOptions } from './hub.js'
export { BOOTSTRAP_TOKEN_NAME, startHub } from './hub.js'
export { createHubLogger } from './logger.js'
export type { MindBusSettings } from './mindbus-config.js'
export type { MqttStatus } from './mqtt-boot.js'
export type { MqttSettings } from './mqtt-config.js'
export {
  DEFAULT_MQTT_PREFIX,
  DEFAULT_MQTT_START_WAIT_MS,
  DEFAULT_MQTT_URL,
} from './mqtt-config.js'
export type { HubOutput, RunHubOptions } from './run-hub.js'
export { runHub } from './run-hub.js'
export { describeStorage, openStorage } from './storage-select.js'
export { formatStartup, formatStop } from './summary.js'
