/**
 * `@core/contracts/testing`: the test support every package shares: the fake clock,
 * `expectCoreError`, the real-server probes (`probeServer` loads `vitest`, an optional peer
 * dependency) and the Prometheus exposition check.
 * @packageDocumentation
 */
export type { ExpectCoreErrorOptions } from './testing/expect-core-error.js'
export { expectCoreError } from './testing/expect-core-error.js'
export type { CreateFakeClockOptions, FakeClock, FakeTimer } from './testing/fake-clock.js'
export { createFakeClock, FAKE_CLOCK_EPOCH_MS } from './testing/fake-clock.js'
export { HAVE_PROMTOOL, promtoolCheckMetrics } from './testing/promtool.js'
export type { ProbeServerOptions, ServerProbe } from './testing/server-probe.js'
export { IN_CI, probeServer, probeTcp } from './testing/server-probe.js'
