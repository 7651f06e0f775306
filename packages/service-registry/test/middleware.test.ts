import { CoreError, type Logger, silentLogger } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { type CallContext, createServiceRegistry, type ServiceContext } from '../src/index.js'

function registry(logger: Logger = silentLogger): ReturnType<typeof createServiceRegistry> {
  return createServiceRegistry({ logger })
}

async function rejection(promise: Promise<unknown>): Promise<CoreError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the promise to reject')
    },
    (e: unknown) => e,
  )
  expect(CoreError.is(error)).toBe(true)
  return error as CoreError
}

describe('middleware', () => {
  it('should run in onion order: first used is outermost, around the handler', async () => {
    const services = registry()
    const trail: string[] = []
    services.register(
      'a.b',
      () => {
        trail.push('handler')
        return 'r'
      },
      { params: {} },
    )
    for (const name of ['one', 'two', 'three']) {
      services.use(async (_ctx, next) => {
        trail.push(`${name} in`)
        const result = await next()
        trail.push(`${name} out`)
        return result
      })
    }
    await expect(services.call('a.b', {})).resolves.toBe('r')
    expect(trail).toEqual([
      'one in',
      'two in',
      'three in',
      'handler',
      'three out',
      'two out',
      'one out',
    ])
  })

  it('should see the call context: name, version, params, meta, signal, deadline, remote flag', async () => {
    const services = registry()
    services.register('a.b', () => 1, { params: {}, version: '1.4.0', timeoutMs: 500 })
    let seen: CallContext | undefined
    services.use((ctx, next) => {
      seen = ctx
      return next()
    })
    const before = Date.now()
    await services.call('a.b', { x: 1 }, { meta: { user: 'ann' } })
    expect(seen).toMatchObject({
      name: 'a.b',
      version: '1.4.0',
      params: { x: 1 },
      meta: { user: 'ann' },
    })
    expect(seen?.timeoutMs).toBe(500)
    expect(seen?.remote).toBe(false)
    expect(seen?.signal).toBeInstanceOf(AbortSignal)
    expect(seen?.deadlineAt).toBeGreaterThanOrEqual(before + 500)
  })

  it('should let a middleware change meta and params for the handler, and re-validate new params', async () => {
    const services = registry()
    services.register(
      'math.double',
      (n: number, ctx: ServiceContext) => ({ n: n * 2, who: ctx.meta.who }),
      {
        params: { type: 'number' },
      },
    )
    const undo = services.use((ctx, next) => {
      ctx.params = (ctx.params as number) + 1
      ctx.meta = { ...ctx.meta, who: 'middleware' }
      return next()
    })
    await expect(services.call('math.double', 1)).resolves.toEqual({ n: 4, who: 'middleware' })
    undo()
    services.use((ctx, next) => {
      ctx.params = 'not a number'
      return next()
    })
    const err = await rejection(services.call('math.double', 1))
    expect(err.code).toBe('E_VALIDATION')
    expect(err.message).toMatch(/params of service "math\.double@1\.0\.0"/)
  })

  it('should let a middleware change the result', async () => {
    const services = registry()
    services.register('a.b', () => 1, { params: {} })
    services.use(async (_ctx, next) => ((await next()) as number) + 10)
    await expect(services.call('a.b', {})).resolves.toBe(11)
  })

  it('should let a middleware answer without calling next()', async () => {
    const services = registry()
    let called = false
    services.register(
      'a.b',
      () => {
        called = true
      },
      { params: {} },
    )
    services.use(async () => 'cached')
    await expect(services.call('a.b', {})).resolves.toBe('cached')
    expect(called).toBe(false)
  })

  it('should re-route when a middleware changes the name or the version', async () => {
    const services = registry()
    services.register('a.old', () => 'old', { params: {} })
    services.register('a.new', () => 'new 1', { params: {}, version: '1.0.0' })
    services.register('a.new', (_p, ctx) => `new ${ctx.version}`, {
      params: { type: 'object' },
      version: '2.3.0',
    })
    let after: CallContext | undefined
    services.use(async (ctx, next) => {
      if (ctx.name === 'a.old') ctx.name = 'a.new'
      if (ctx.meta.pin) ctx.version = ctx.meta.pin as string
      const result = await next()
      after = ctx
      return result
    })
    await expect(services.call('a.old', {})).resolves.toBe('new 2.3.0')
    expect(after).toMatchObject({ name: 'a.new', version: '2.3.0' })
    await expect(services.call('a.new', {}, { meta: { pin: '^1' } })).resolves.toBe('new 1')
    // a new name alone keeps the caller's range
    await expect(services.call('a.old', {}, { version: '^1' })).resolves.toBe('new 1')
    // the new target's params schema applies
    expect((await rejection(services.call('a.old', 'x' as never))).code).toBe('E_VALIDATION')
    expect((await rejection(services.call('a.new', {}, { meta: { pin: '^9' } }))).code).toBe(
      'E_SERVICE_NOT_FOUND',
    )
  })

  it('should hand middleware the handler’s CoreErrors unchanged and wrapped non-CoreErrors', async () => {
    const services = registry()
    services.register(
      'a.fails',
      () => {
        throw new Error('nope')
      },
      { params: {} },
    )
    const seen: unknown[] = []
    services.use(async (_ctx, next) => {
      try {
        return await next()
      } catch (error) {
        seen.push(error)
        throw error
      }
    })
    const err = await rejection(services.call('a.fails', {}))
    expect(err.code).toBe('E_HANDLER')
    expect(seen).toEqual([err])
  })

  it('should turn a non-CoreError thrown by a middleware into E_INTERNAL, and log it', async () => {
    const warnings: unknown[] = []
    const logger: Logger = {
      ...silentLogger,
      warn: (obj: unknown, msg?: string) => warnings.push([obj, msg]),
      child: () => logger,
    }
    const services = registry(logger)
    services.register('a.b', () => 1, { params: {} })
    const outer: unknown[] = []
    services.use(async (_ctx, next) => {
      try {
        return await next()
      } catch (error) {
        outer.push(error)
        throw error
      }
    })
    services.use(() => {
      throw new TypeError('bug in middleware')
    })
    const err = await rejection(services.call('a.b', {}))
    expect(err.code).toBe('E_INTERNAL')
    expect(err.message).toBe('Middleware #1 failed during the call to "a.b": bug in middleware')
    expect(outer).toEqual([err])
    expect(warnings).toHaveLength(1)
  })

  it('should pass a CoreError thrown by a middleware through unchanged', async () => {
    const services = registry()
    services.register('a.b', () => 1, { params: {} })
    const denied = new CoreError('E_FORBIDDEN', 'Plugin "x" may not call "a.b"')
    services.use(async () => {
      throw denied
    })
    expect(await rejection(services.call('a.b', {}))).toBe(denied)
  })

  it('should refuse next() called twice with E_INTERNAL', async () => {
    const services = registry()
    let calls = 0
    services.register('a.b', () => ++calls, { params: {} })
    services.use(async (_ctx, next) => {
      await next()
      return next()
    })
    const err = await rejection(services.call('a.b', {}))
    expect(err.code).toBe('E_INTERNAL')
    expect(err.message).toMatch(/called next\(\) more than once/)
    expect(calls).toBe(1)
  })

  it('should accept a middleware returning a plain value', async () => {
    const services = registry()
    services.register('a.b', () => 1, { params: {} })
    services.use((() => 5) as never)
    await expect(services.call('a.b', {})).resolves.toBe(5)
  })

  it('should stop running a middleware after its undo, and keep the others; undo twice is harmless', async () => {
    const services = registry()
    services.register('a.b', () => 1, { params: {} })
    const trail: string[] = []
    const undoA = services.use((_ctx, next) => {
      trail.push('a')
      return next()
    })
    const undoB = services.use((_ctx, next) => {
      trail.push('b')
      return next()
    })
    undoA()
    undoA()
    await services.call('a.b', {})
    expect(trail).toEqual(['b'])
    undoB[Symbol.dispose]()
    await services.call('a.b', {})
    expect(trail).toEqual(['b'])
  })

  it('should refuse a middleware that is not a function', () => {
    const services = registry()
    expect(() => services.use('x' as never)).toThrow(
      expect.objectContaining({ code: 'E_VALIDATION' }),
    )
  })

  it('should let the same function be used twice and undone one at a time', async () => {
    const services = registry()
    services.register('a.b', () => 1, { params: {} })
    let runs = 0
    const mw = (_ctx: CallContext, next: () => Promise<unknown>): Promise<unknown> => {
      runs++
      return next()
    }
    const undo1 = services.use(mw)
    services.use(mw)
    await services.call('a.b', {})
    expect(runs).toBe(2)
    undo1()
    await services.call('a.b', {})
    expect(runs).toBe(3)
  })
})
