import { CoreError, type ServiceDescriptor, silentLogger } from '@core/contracts'
import { createFakeClock, expectCoreError, type FakeClock } from '@core/contracts/testing'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  type CreateServiceRegistryOptions,
  createServiceRegistry,
  createServiceRegistryMetrics,
  type RemoteCallRequest,
  type RemoteTransport,
} from '../src/index.js'

/** What the scripted transport does with the next request. */
type Step = 'unavailable' | 'timeout' | 'conflict' | { result: unknown }

interface ScriptedTransport extends RemoteTransport {
  requests: RemoteCallRequest[]
  script: Step[]
}

/** A transport that answers from a script (after one hop) and lists the given descriptors. */
function scripted(idempotent: Record<string, boolean>): ScriptedTransport {
  const requests: RemoteCallRequest[] = []
  const script: Step[] = []
  return {
    requests,
    script,
    async call(request) {
      requests.push(request)
      await Promise.resolve()
      const step = script.shift() ?? { result: 'ok' }
      if (step === 'unavailable') throw new Error('connection reset by peer')
      if (step === 'timeout') {
        throw new CoreError('E_TIMEOUT', `Service "${request.name}" did not answer in time`)
      }
      if (step === 'conflict') {
        throw new CoreError('E_CONFLICT', `Service "${request.name}" refused: revision moved`)
      }
      return step.result
    },
    list: () =>
      Object.entries(idempotent).map(
        ([name, flag]): ServiceDescriptor => ({
          name,
          version: '1.0.0',
          params: {},
          timeoutMs: 30_000,
          idempotent: flag,
          node: 'node-a',
        }),
      ),
  }
}

function setup(options: Partial<CreateServiceRegistryOptions> = {}) {
  const clock = createFakeClock()
  const transport = scripted({ 'lights.get': true, 'lights.toggle': false })
  const services = createServiceRegistry({
    logger: silentLogger,
    clock,
    remote: transport,
    ...options,
  })
  const registry = new Registry()
  createServiceRegistryMetrics(services).register(registry)
  return { clock, transport, services, registry }
}

/** Lets a call run while the fake clock moves `ms` (firing backoff timers on the way). */
async function run<T>(clock: FakeClock, promise: Promise<T>, ms = 5_000): Promise<T> {
  const settled = promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  )
  await clock.advance(ms)
  const outcome = await settled
  if (outcome.ok) return outcome.value
  throw outcome.error
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('retries of idempotent remote services', () => {
  it('retries E_UNAVAILABLE and E_TIMEOUT until an attempt succeeds, and counts the retries', async () => {
    const { clock, transport, services, registry } = setup()
    transport.script.push('unavailable', 'timeout', { result: 42 })
    expect(await run(clock, services.call('lights.get', {}))).toBe(42)
    expect(transport.requests).toHaveLength(3)
    expect(services.stats().remote.retries).toEqual({ 'lights.get': 2 })
    const text = await registry.metrics()
    expect(sample(text, 'core_service_remote_retries_total{service="lights.get"}')).toBe(2)
  })

  it('gives each attempt only the time left before the call’s deadline', async () => {
    const { clock, transport, services } = setup()
    vi.spyOn(Math, 'random').mockReturnValue(0.5)
    transport.script.push('unavailable', { result: 1 })
    await run(clock, services.call('lights.get', {}, { timeoutMs: 1_000 }))
    const [first, second] = transport.requests
    expect(first?.timeoutMs).toBe(1_000)
    // full jitter: 0.5 × min(1_000, 50 × 2^0) = 25 ms of backoff
    expect(second?.timeoutMs).toBe(975)
    expect(second?.deadlineAt).toBe(first?.deadlineAt)
  })

  it('stops after `attempts` and rejects with the last failure', async () => {
    const { clock, transport, services } = setup({ remoteRetry: { attempts: 2 } })
    transport.script.push('unavailable', 'unavailable', { result: 'too late' })
    await expectCoreError(run(clock, services.call('lights.get', {})), 'E_UNAVAILABLE', {
      message: 'connection reset by peer',
    })
    expect(transport.requests).toHaveLength(2)
  })

  it('does not retry a service that does not declare itself idempotent', async () => {
    const { clock, transport, services } = setup()
    transport.script.push('unavailable', { result: 1 })
    await expectCoreError(run(clock, services.call('lights.toggle', {})), 'E_UNAVAILABLE')
    expect(transport.requests).toHaveLength(1)
    expect(services.stats().remote.retries).toEqual({})
  })

  it('does not retry other codes, even for an idempotent service', async () => {
    const { clock, transport, services } = setup()
    transport.script.push('conflict', { result: 1 })
    await expectCoreError(run(clock, services.call('lights.get', {})), 'E_CONFLICT')
    expect(transport.requests).toHaveLength(1)
  })

  it('does not retry when the backoff would pass the call’s deadline', async () => {
    const { clock, transport, services } = setup({
      remoteRetry: { attempts: 5, baseDelayMs: 1_000, maxDelayMs: 1_000 },
    })
    vi.spyOn(Math, 'random').mockReturnValue(0.9) // 900 ms of backoff, 100 ms of deadline
    transport.script.push('unavailable', { result: 1 })
    await expectCoreError(
      run(clock, services.call('lights.get', {}, { timeoutMs: 100 })),
      'E_UNAVAILABLE',
    )
    expect(transport.requests).toHaveLength(1)
  })

  it('never retries with remoteRetry: false', async () => {
    const { clock, transport, services } = setup({ remoteRetry: false })
    transport.script.push('unavailable', { result: 1 })
    await expectCoreError(run(clock, services.call('lights.get', {})), 'E_UNAVAILABLE')
    expect(transport.requests).toHaveLength(1)
  })

  it('refuses a bad retry option with E_VALIDATION', async () => {
    await expectCoreError(
      () =>
        createServiceRegistry({
          remote: scripted({}),
          remoteRetry: { attempts: 0 },
        }),
      'E_VALIDATION',
      { details: { option: 'remoteRetry.attempts' } },
    )
  })
})

describe('circuit breaker per remote target', () => {
  const breaker = { failureThreshold: 3, resetTimeoutMs: 1_000 }

  it('opens after N consecutive failures and then refuses calls without sending them', async () => {
    const { clock, transport, services, registry } = setup({
      remoteRetry: false,
      circuitBreaker: breaker,
    })
    transport.script.push('unavailable', 'timeout', 'unavailable')
    for (let i = 0; i < 3; i++) await services.call('lights.toggle', {}).catch(() => undefined)
    expect(transport.requests).toHaveLength(3)
    const refused = await expectCoreError(services.call('lights.get', {}), 'E_UNAVAILABLE', {
      message: /Remote target "lights" is failing/,
      details: { target: 'lights', retryAt: clock.now() + 1_000 },
    })
    expect(refused.message).toMatch(/trial call through in 1000 ms/)
    expect(transport.requests).toHaveLength(3)
    expect(services.stats().remote.circuits).toEqual([
      { target: 'lights', state: 'open', failures: 3, opened: 1, rejected: 1 },
    ])
    const text = await registry.metrics()
    expect(sample(text, 'core_service_circuit_state{target="lights",state="open"}')).toBe(1)
    expect(sample(text, 'core_service_circuit_state{target="lights",state="closed"}')).toBe(0)
    expect(sample(text, 'core_service_circuit_opened_total{target="lights"}')).toBe(1)
    expect(sample(text, 'core_service_circuit_rejected_total{target="lights"}')).toBe(1)
  })

  it('keeps one circuit per target: another namespace still goes through', async () => {
    const { transport, services } = setup({ remoteRetry: false, circuitBreaker: breaker })
    transport.script.push('unavailable', 'unavailable', 'unavailable', { result: 'fine' })
    for (let i = 0; i < 3; i++) await services.call('lights.toggle', {}).catch(() => undefined)
    expect(await services.call('heating.get', {})).toBe('fine')
  })

  it('half-opens after resetTimeoutMs: a successful trial closes it', async () => {
    const { clock, transport, services } = setup({ remoteRetry: false, circuitBreaker: breaker })
    transport.script.push('unavailable', 'unavailable', 'unavailable')
    for (let i = 0; i < 3; i++) await services.call('lights.toggle', {}).catch(() => undefined)
    clock.tick(999)
    await expectCoreError(services.call('lights.toggle', {}), 'E_UNAVAILABLE')
    clock.tick(1)
    expect(services.stats().remote.circuits[0]?.state).toBe('half-open')
    transport.script.push({ result: 'back' })
    expect(await services.call('lights.toggle', {})).toBe('back')
    expect(services.stats().remote.circuits[0]).toMatchObject({ state: 'closed', failures: 0 })
    expect(transport.requests).toHaveLength(4)
  })

  it('lets only one trial through while half-open; a failed trial opens it again', async () => {
    const { clock, transport, services } = setup({ remoteRetry: false, circuitBreaker: breaker })
    transport.script.push('unavailable', 'unavailable', 'unavailable', 'unavailable')
    for (let i = 0; i < 3; i++) await services.call('lights.toggle', {}).catch(() => undefined)
    clock.tick(1_000)
    const trial = services.call('lights.toggle', {})
    await expectCoreError(services.call('lights.toggle', {}), 'E_UNAVAILABLE', {
      message: /is failing/,
    })
    await expectCoreError(trial, 'E_UNAVAILABLE', { message: 'connection reset' })
    expect(services.stats().remote.circuits[0]).toMatchObject({ state: 'open', opened: 2 })
    expect(transport.requests).toHaveLength(4)
  })

  it('counts other codes as answers from a live target: they reset the failure count', async () => {
    const { transport, services } = setup({ remoteRetry: false, circuitBreaker: breaker })
    transport.script.push('unavailable', 'unavailable', 'conflict', 'unavailable', 'unavailable')
    for (let i = 0; i < 5; i++) await services.call('lights.toggle', {}).catch(() => undefined)
    expect(services.stats().remote.circuits[0]).toMatchObject({ state: 'closed', failures: 2 })
  })
})
