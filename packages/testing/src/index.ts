/// <reference types="node" preserve="true" />
/**
 * Mock hub and mock SDK for Core Runtime plugin authors.
 *
 * @module @core/testing
 */
export type { CreateFakeClockOptions, FakeClock, FakeTimer } from '@core/contracts/testing'
export { createFakeClock, FAKE_CLOCK_EPOCH_MS } from '@core/contracts/testing'
export { createMockHub } from './mock-hub.js'
export type { MockPlugin } from './plugins.js'
export type {
  CreateRecordingLoggerOptions,
  LogLevel,
  LogRecord,
  RecordingLogger,
} from './recording-logger.js'
export { createRecordingLogger } from './recording-logger.js'
export type {
  CallRecord,
  CreateMockHubOptions,
  ExpectCallOptions,
  ExpectEventOptions,
  MockHub,
  PluginActor,
  ServiceStub,
} from './types.js'
