import { type Clock, CoreError, type ServiceDescriptor, silentLogger } from '@core/contracts'
import { createFakeClock } from '@core/contracts/testing'
import { describe, expect, it } from 'vitest'
import {
  type CallContext,
  createServiceRegistry,
  type RemoteCallRequest,
  type RemoteTransport,
  type ServiceContext,
  type ServiceRegistry,
} from '../src/index.js'

/**
 * An in-memory transport from one node to another, as the RabbitMQ one will behave: the request
 * and the reply cross as JSON, an error comes back in its serialised form, and an abort of the
 * caller's signal is forwarded to the serving node.
 */
interface FakeTransport extends RemoteTransport {
  requests: RemoteCallRequest[]
}

function connect(server: () => ServiceRegistry, node = 'node-a'): FakeTransport {
  const requests: RemoteCallRequest[] = []
  return {
    requests,
    async call(request, signal) {
      const wire = JSON.parse(JSON.stringify(request)) as RemoteCallRequest
      requests.push(wire)
      const serverSide = new AbortController()
      const forward = (): void => serverSide.abort(signal.reason)
      signal.addEventListener('abort', forward, { once: true })
      try {
        await Promise.resolve() // a hop
        const reply = JSON.parse(JSON.stringify(await server().serve(wire, serverSide.signal)))
        if (reply.ok) return reply.result
        throw reply.error // the SerializedCoreError, as received
      } finally {
        signal.removeEventListener('abort', forward)
      }
    },
    list: () =>
      server()
        .list()
        .map((d) => ({ ...d, node })),
  }
}

/** Node A serves; node B calls through its transport to A. */
function twoNodes(clock?: Clock): {
  a: ServiceRegistry
  b: ServiceRegistry
  transport: FakeTransport
} {
  const a = createServiceRegistry({ logger: silentLogger, ...(clock ? { clock } : {}) })
  const transport = connect(() => a)
  const b = createServiceRegistry({
    logger: silentLogger,
    remote: transport,
    ...(clock ? { clock } : {}),
  })
  return { a, b, transport }
}

async function rejection(promise: Promise<unknown>): Promise<CoreError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the promise to reject')
    },
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(CoreError)
  return error as CoreError
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve()
}

const never = (): Promise<never> => new Promise<never>(() => {})

describe('remote routing seam', () => {
  it('should call a service served only on node A from node B through the same call()', async () => {
    const { a, b, transport } = twoNodes()
    let seen: { params: unknown; context: ServiceContext } | undefined
    a.register(
      'lights.set',
      (params: { on: boolean }, context) => {
        seen = { params, context }
        return { on: params.on, node: 'a' }
      },
      { params: { type: 'object', required: ['on'] }, version: '2.1.0' },
    )
    await expect(b.call('lights.set', { on: true }, { meta: { user: 'ann' } })).resolves.toEqual({
      on: true,
      node: 'a',
    })
    expect(seen?.params).toEqual({ on: true })
    expect(seen?.context.meta).toEqual({ user: 'ann' })
    expect(seen?.context.version).toBe('2.1.0')
    expect(transport.requests).toHaveLength(1)
    const [request] = transport.requests
    expect(request).toMatchObject({
      name: 'lights.set',
      params: { on: true },
      meta: { user: 'ann' },
    })
    expect(request).not.toHaveProperty('version')
    expect(request?.timeoutMs).toBeGreaterThan(29_000)
    expect(request?.timeoutMs).toBeLessThanOrEqual(30_000)
    expect(request?.deadlineAt).toBeGreaterThan(Date.now())
  })

  it('should prefer a local service and not touch the transport', async () => {
    const { a, b, transport } = twoNodes()
    a.register('lights.set', () => 'remote', { params: {} })
    b.register('lights.set', () => 'local', { params: {} })
    await expect(b.call('lights.set', {})).resolves.toBe('local')
    expect(transport.requests).toHaveLength(0)
  })

  it('should go remote when no local version satisfies the range, sending the range', async () => {
    const { a, b, transport } = twoNodes()
    b.register('lights.set', () => 'local 1', { params: {}, version: '1.0.0' })
    a.register('lights.set', () => 'remote 2', { params: {}, version: '2.0.0' })
    await expect(b.call('lights.set', {}, { version: '^2' })).resolves.toBe('remote 2')
    await expect(b.call('lights.set', {}, { version: '^1' })).resolves.toBe('local 1')
    expect(transport.requests.map((r) => r.version)).toEqual(['^2'])
  })

  it('should bring a handler’s CoreError back with its code, message and details', async () => {
    const { a, b } = twoNodes()
    a.register(
      'lights.get',
      () => {
        throw new CoreError('E_NOT_FOUND', 'No light "attic"', { details: { light: 'attic' } })
      },
      { params: {} },
    )
    const err = await rejection(b.call('lights.get', {}))
    expect(err.code).toBe('E_NOT_FOUND')
    expect(err.message).toBe('No light "attic"')
    expect(err.details).toEqual({ light: 'attic' })
  })

  it('should bring E_HANDLER back with its cause, and E_VALIDATION with its Ajv paths', async () => {
    const { a, b } = twoNodes()
    a.register(
      'lights.break',
      () => {
        throw new RangeError('fuse blown')
      },
      { params: {} },
    )
    a.register('lights.set', () => 1, { params: { type: 'object', required: ['on'] } })
    const handler = await rejection(b.call('lights.break', {}))
    expect(handler.code).toBe('E_HANDLER')
    expect(handler.message).toBe('Service "lights.break@1.0.0" failed: fuse blown')
    expect(handler.cause).toMatchObject({ name: 'RangeError', message: 'fuse blown' })
    const invalid = await rejection(b.call('lights.set', {}))
    expect(invalid.code).toBe('E_VALIDATION')
    expect(invalid.details).toMatchObject({ errors: [{ path: '/on', keyword: 'required' }] })
  })

  it('should bring E_SERVICE_NOT_FOUND back from the serving node, with its suggestions', async () => {
    const { a, b } = twoNodes()
    a.register('lights.toggle', () => 1, { params: {} })
    const err = await rejection(b.call('lights.togle', {}))
    expect(err.code).toBe('E_SERVICE_NOT_FOUND')
    expect(err.details).toEqual({ service: 'lights.togle', closest: ['lights.toggle'] })
  })

  it('should time out on the caller’s deadline and abort the remote handler’s signal', async () => {
    const clock = createFakeClock({ now: 1_700_000_000_000 })
    const { a, b } = twoNodes(clock)
    let remoteSignal: AbortSignal | undefined
    a.register(
      'lights.slow',
      (_p, ctx) => {
        remoteSignal = ctx.signal
        return never()
      },
      { params: {} },
    )
    const pending = b.call('lights.slow', {}, { timeoutMs: 50 })
    const settled = rejection(pending)
    await flush()
    expect(remoteSignal?.aborted).toBe(false)
    clock.tick(50)
    const err = await settled
    expect(err.code).toBe('E_TIMEOUT')
    expect(err.message).toMatch(/^Remote call to "lights\.slow" did not answer within 50 ms/)
    await flush()
    expect(remoteSignal?.aborted).toBe(true)
  })

  it('should bring the serving node’s own shorter timeout back as E_TIMEOUT', async () => {
    const clock = createFakeClock({ now: 1_700_000_000_000 })
    const { a, b } = twoNodes(clock)
    a.register('lights.slow', () => never(), { params: {}, timeoutMs: 20 })
    const settled = rejection(b.call('lights.slow', {}, { timeoutMs: 1000 }))
    await flush()
    clock.tick(20)
    const err = await settled
    expect(err.code).toBe('E_TIMEOUT')
    expect(err.message).toMatch(/^Service "lights\.slow@1\.0\.0" did not answer within 20 ms/)
  })

  it('should give the serving node the time left, not the whole timeout', async () => {
    const clock = createFakeClock({ now: 1_700_000_000_000 })
    const { a, b, transport } = twoNodes(clock)
    a.register('a.b', () => 1, { params: {} })
    b.use(async (_ctx, next) => {
      clock.tick(30) // time spent in B's middleware
      return next()
    })
    await b.call('a.b', {}, { timeoutMs: 100 })
    expect(transport.requests[0]?.timeoutMs).toBe(70)
    expect(transport.requests[0]?.deadlineAt).toBe(clock.now() + 70)
  })

  it('should cancel across the seam when the caller aborts', async () => {
    const { a, b } = twoNodes()
    let remoteSignal: AbortSignal | undefined
    a.register(
      'lights.slow',
      (_p, ctx) => {
        remoteSignal = ctx.signal
        return never()
      },
      { params: {} },
    )
    const controller = new AbortController()
    const settled = rejection(b.call('lights.slow', {}, { signal: controller.signal }))
    await flush()
    controller.abort()
    expect((await settled).code).toBe('E_CANCELLED')
    await flush()
    expect(remoteSignal?.aborted).toBe(true)
    expect(CoreError.is(remoteSignal?.reason, 'E_CANCELLED')).toBe(true)
  })

  it('should report a transport failure as E_UNAVAILABLE with the cause', async () => {
    const broken = new Error('connection refused')
    const rejecting = createServiceRegistry({
      logger: silentLogger,
      remote: { call: () => Promise.reject(broken) },
    })
    const err = await rejection(rejecting.call('lights.set', {}))
    expect(err.code).toBe('E_UNAVAILABLE')
    expect(err.message).toMatch(
      /^Remote call to "lights\.set" failed in the transport: connection refused/,
    )
    expect(err.cause).toBe(broken)
    const throwing = createServiceRegistry({
      logger: silentLogger,
      remote: {
        call: () => {
          throw broken
        },
      },
    })
    expect((await rejection(throwing.call('lights.set', {}))).code).toBe('E_UNAVAILABLE')
  })

  it('should accept a transport that rejects with a rebuilt CoreError', async () => {
    const own = new CoreError('E_FORBIDDEN', 'denied')
    const services = createServiceRegistry({
      logger: silentLogger,
      remote: { call: () => Promise.reject(own) },
    })
    expect(await rejection(services.call('a.b', {}))).toBe(own)
  })

  it('should still refuse a malformed name or range before going remote', async () => {
    const { b, transport } = twoNodes()
    expect((await rejection(b.call('nodot', {}))).code).toBe('E_VALIDATION')
    expect((await rejection(b.call('a.b', {}, { version: 'newest' }))).code).toBe('E_VALIDATION')
    expect(transport.requests).toHaveLength(0)
  })

  it('should run the caller’s middleware around a remote call, marked remote', async () => {
    const { a, b } = twoNodes()
    a.register('a.b', (n: number) => n + 1, { params: { type: 'number' } })
    let seen: Pick<CallContext, 'name' | 'version' | 'remote'> | undefined
    b.use(async (ctx, next) => {
      seen = { name: ctx.name, version: ctx.version, remote: ctx.remote }
      ctx.params = 41
      return next()
    })
    await expect(b.call('a.b', 0)).resolves.toBe(42)
    expect(seen).toEqual({ name: 'a.b', version: '*', remote: true })
  })

  it('should run the serving node’s middleware on served calls', async () => {
    const { a, b } = twoNodes()
    a.register('a.b', (_p, ctx) => ctx.meta.checked, { params: {} })
    a.use((ctx, next) => {
      ctx.meta = { ...ctx.meta, checked: true }
      return next()
    })
    await expect(b.call('a.b', {})).resolves.toBe(true)
  })

  it('should never forward a served call again (no loops between nodes)', async () => {
    const a = createServiceRegistry({ logger: silentLogger, remote: connect(() => b) })
    const b: ServiceRegistry = createServiceRegistry({
      logger: silentLogger,
      remote: connect(() => a),
    })
    const err = await rejection(b.call('nowhere.at_all', {}))
    expect(err.code).toBe('E_SERVICE_NOT_FOUND')
  })

  it('should answer a malformed request with an error reply, never a rejection', async () => {
    const a = createServiceRegistry({ logger: silentLogger })
    await expect(a.serve(null as never)).resolves.toMatchObject({
      ok: false,
      error: { code: 'E_VALIDATION' },
    })
    await expect(
      a.serve({ name: 'a.b', params: {}, timeoutMs: -1, deadlineAt: 0, meta: {} }),
    ).resolves.toMatchObject({ ok: false, error: { code: 'E_VALIDATION', name: 'CoreError' } })
  })
})

describe('listAll', () => {
  it('should merge the transport’s descriptors with the local ones, local first', async () => {
    const { a, b } = twoNodes()
    a.register('lights.set', () => 1, { params: {}, version: '2.0.0' })
    a.register('climate.get', () => 1, { params: {} })
    b.register('lights.set', () => 1, { params: {}, version: '2.0.0' })
    const all = await b.listAll()
    expect(all.map((d) => `${d.name}@${d.version}${d.node ? ` on ${d.node}` : ''}`)).toEqual([
      'lights.set@2.0.0',
      'climate.get@1.0.0 on node-a',
    ])
  })

  it('should equal list() without a transport or without transport.list', async () => {
    const plain = createServiceRegistry({ logger: silentLogger })
    plain.register('a.b', () => 1, { params: {} })
    await expect(plain.listAll()).resolves.toEqual(plain.list())
    const noList = createServiceRegistry({ logger: silentLogger, remote: { call: async () => 1 } })
    await expect(noList.listAll()).resolves.toEqual([])
  })

  it('should report a failing transport list as E_UNAVAILABLE', async () => {
    const services = createServiceRegistry({
      logger: silentLogger,
      remote: {
        call: async () => 1,
        list: (): ServiceDescriptor[] => {
          throw new Error('broker down')
        },
      },
    })
    const err = await rejection(services.listAll())
    expect(err.code).toBe('E_UNAVAILABLE')
  })
})
