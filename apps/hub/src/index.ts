export type {
  ConfigOrigin,
  HttpSettings,
  HubArgs,
  HubConfig,
  HubConfigFile,
  LoadHubConfigOptions,
  LogLevel,
  MqttSettings,
  OverridableField,
  StorageConfig,
} from './config.js'
export {
  APP_DIR,
  DEFAULT_CONFIG_FILES,
  DEFAULT_HTTP_HOST,
  DEFAULT_HTTP_PORT,
  DEFAULT_MQTT_PREFIX,
  DEFAULT_MQTT_START_WAIT_MS,
  DEFAULT_MQTT_URL,
  ENV_OVERRIDES,
  HubConfigSchema,
  LOG_LEVELS,
  loadHubConfig,
  MIN_ADMIN_TOKEN_LENGTH,
  parseHubArgs,
  USAGE,
} from './config.js'
export type { MqttStatus, RunningHub, StartHubOptions } from './hub.js'
export {
  BOOTSTRAP_TOKEN_NAME,
  createHubLogger,
  describeStorage,
  formatStartup,
  formatStop,
  openStorage,
  startHub,
} from './hub.js'
export type { HubOutput, RunHubOptions } from './run-hub.js'
export { runHub } from './run-hub.js'
