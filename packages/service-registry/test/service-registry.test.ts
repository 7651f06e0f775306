import {
  type Logger,
  type ServiceDescriptor,
  ServiceDescriptorSchema,
  silentLogger,
} from '@core/contracts'
import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'
import { createServiceRegistry, type ServiceContext } from '../src/index.js'
import { onOff, registry, rejection, thrown } from './service-registry-helpers.js'

describe('public surface', () => {
  it('should export exactly the documented names', () => {
    expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
      [
        "DEFAULT_TIMEOUT_MS",
        "createServiceRegistry",
        "createServiceRegistryMetrics",
      ]
    `)
    expect(api.DEFAULT_TIMEOUT_MS).toBe(30_000)
  })

  it('should give a registry with exactly the documented methods', () => {
    expect(Object.keys(registry()).sort()).toMatchInlineSnapshot(`
      [
        "call",
        "has",
        "list",
        "listAll",
        "observe",
        "register",
        "serve",
        "stats",
        "use",
      ]
    `)
  })
})

describe('register and call', () => {
  it('should call the handler with the params and a context, and resolve with its result', async () => {
    const services = registry()
    let seen: { params: unknown; context: ServiceContext } | undefined
    services.register(
      'lights.set',
      async (params: { on: boolean }, context) => {
        seen = { params, context }
        return { on: params.on }
      },
      { params: onOff, version: '1.2.0' },
    )
    const before = Date.now()
    const result = await services.call('lights.set', { on: true }, { meta: { caller: 'test' } })
    expect(result).toEqual({ on: true })
    expect(seen?.params).toEqual({ on: true })
    expect(seen?.context.name).toBe('lights.set')
    expect(seen?.context.version).toBe('1.2.0')
    expect(seen?.context.meta).toEqual({ caller: 'test' })
    expect(seen?.context.signal).toBeInstanceOf(AbortSignal)
    expect(seen?.context.signal.aborted).toBe(false)
    expect(seen?.context.deadlineAt).toBeGreaterThanOrEqual(before + 30_000)
    expect(seen?.context.deadlineAt).toBeLessThanOrEqual(Date.now() + 30_000)
  })

  it('should accept a handler that returns a plain value', async () => {
    const services = registry()
    services.register('math.double', (n: number) => n * 2, { params: { type: 'number' } })
    await expect(services.call('math.double', 21)).resolves.toBe(42)
  })

  it('should give an empty meta object when the caller passes none', async () => {
    const services = registry()
    services.register('meta.echo', (_p, context) => context.meta, { params: {} })
    await expect(services.call('meta.echo', null)).resolves.toEqual({})
  })

  it('should accept a TypeBox schema as is', async () => {
    const services = registry()
    services.register('nodes.describe', (d: ServiceDescriptor) => d.name, {
      params: ServiceDescriptorSchema,
    })
    const good = { name: 'a.b', version: '1.0.0', params: {}, timeoutMs: 10, idempotent: true }
    await expect(services.call('nodes.describe', good)).resolves.toBe('a.b')
    const err = await rejection(services.call('nodes.describe', { ...good, timeoutMs: 0 }))
    expect(err.code).toBe('E_VALIDATION')
  })

  it('should refuse a name that is not namespace.method', () => {
    const services = registry()
    for (const name of ['lights', 'Lights.set', '.set', 'lights.', 'lights..set', 42]) {
      const err = thrown(() => services.register(name as string, () => 1, { params: {} }))
      expect(err.code).toBe('E_VALIDATION')
    }
  })

  it('should refuse a missing handler, missing options or a missing params schema', () => {
    const services = registry()
    expect(thrown(() => services.register('a.b', 'no' as never, { params: {} })).code).toBe(
      'E_VALIDATION',
    )
    expect(thrown(() => services.register('a.b', () => 1, undefined as never)).code).toBe(
      'E_VALIDATION',
    )
    const err = thrown(() => services.register('a.b', () => 1, {} as never))
    expect(err.code).toBe('E_VALIDATION')
    expect(err.message).toMatch(/params schema/)
  })

  it('should refuse a schema Ajv cannot compile, naming it', () => {
    const services = registry()
    const err = thrown(() => services.register('a.b', () => 1, { params: { type: 'nope' } }))
    expect(err.code).toBe('E_VALIDATION')
    expect(err.message).toMatch(/params schema of service "a\.b@1\.0\.0"/)
    expect(thrown(() => services.register('a.b', () => 1, { params: { minimun: 1 } })).code).toBe(
      'E_VALIDATION',
    )
    expect(thrown(() => services.register('a.b', () => 1, { params: [] as never })).code).toBe(
      'E_VALIDATION',
    )
    const result = thrown(() =>
      services.register('a.b', () => 1, { params: {}, result: { type: 'integer', minimum: 'x' } }),
    )
    expect(result.message).toMatch(/result schema/)
    expect(services.has('a.b')).toBe(false)
  })

  it('should refuse an invalid version, timeout, description or idempotent flag', () => {
    const services = registry()
    for (const version of ['1', '1.0', 'latest', '^1.0.0', '']) {
      expect(thrown(() => services.register('a.b', () => 1, { params: {}, version })).code).toBe(
        'E_VALIDATION',
      )
    }
    for (const timeoutMs of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(thrown(() => services.register('a.b', () => 1, { params: {}, timeoutMs })).code).toBe(
        'E_VALIDATION',
      )
    }
    expect(
      thrown(() => services.register('a.b', () => 1, { params: {}, description: 1 as never })).code,
    ).toBe('E_VALIDATION')
    expect(
      thrown(() => services.register('a.b', () => 1, { params: {}, idempotent: 'yes' as never }))
        .code,
    ).toBe('E_VALIDATION')
  })

  it('should refuse the same name@version twice with E_CONFLICT, and accept another version', () => {
    const services = registry()
    services.register('a.b', () => 1, { params: {}, version: '1.0.0' })
    const err = thrown(() => services.register('a.b', () => 2, { params: {}, version: '1.0.0' }))
    expect(err.code).toBe('E_CONFLICT')
    expect(err.message).toMatch(/"a\.b@1\.0\.0" is already registered/)
    expect(err.details).toEqual({ service: 'a.b', version: '1.0.0' })
    // build metadata does not make another version (semver precedence)
    expect(
      thrown(() => services.register('a.b', () => 2, { params: {}, version: '1.0.0+build.7' }))
        .code,
    ).toBe('E_CONFLICT')
    expect(() => services.register('a.b', () => 2, { params: {}, version: '1.0.1' })).not.toThrow()
  })

  it('should default the version to 1.0.0 and normalise a leading v', () => {
    const services = registry()
    services.register('a.b', () => 1, { params: {} })
    services.register('a.c', () => 1, { params: {}, version: 'v2.0.0' })
    expect(services.list().map((d) => `${d.name}@${d.version}`)).toEqual(['a.b@1.0.0', 'a.c@2.0.0'])
  })

  it('should share one compiled schema between services and keep it until the last one goes', async () => {
    const services = registry()
    const schema = { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] }
    const undoA = services.register('a.one', () => 'one', { params: schema })
    services.register('a.two', () => 'two', { params: { ...schema } })
    undoA()
    await expect(services.call('a.two', { n: 1 })).resolves.toBe('two')
    expect((await rejection(services.call('a.two', {}))).code).toBe('E_VALIDATION')
  })

  it('should accept two different schemas with the same $id', async () => {
    const services = registry()
    const id = 'https://example.org/schemas/thing.json'
    services.register('a.one', () => 1, { params: { $id: id, type: 'number' } })
    services.register('a.two', () => 2, { params: { $id: id, type: 'string' } })
    await expect(services.call('a.one', 5)).resolves.toBe(1)
    await expect(services.call('a.two', 'x')).resolves.toBe(2)
    expect((await rejection(services.call('a.two', 5))).code).toBe('E_VALIDATION')
  })

  it('should not see later changes to the caller’s schema object', async () => {
    const services = registry()
    const schema = { type: 'object', properties: { on: { type: 'boolean' } } }
    services.register('a.b', () => 1, { params: schema })
    ;(schema.properties.on as { type: string }).type = 'string'
    await expect(services.call('a.b', { on: true })).resolves.toBe(1)
    expect(services.list()[0]?.params).toEqual({
      type: 'object',
      properties: { on: { type: 'boolean' } },
    })
  })
})

describe('validation', () => {
  it('should refuse bad params with E_VALIDATION naming every Ajv path, without calling the handler', async () => {
    const services = registry()
    let called = false
    services.register(
      'lights.set',
      () => {
        called = true
      },
      { params: onOff },
    )
    const err = await rejection(services.call('lights.set', { level: 200, extra: 1 }))
    expect(err.code).toBe('E_VALIDATION')
    expect(err.message).toMatch(/^Invalid params of service "lights\.set@1\.0\.0"/)
    const errors = (err.details as { errors: Array<{ path: string; keyword: string }> }).errors
    expect(errors.map((e) => `${e.path} ${e.keyword}`).sort()).toEqual([
      '/ additionalProperties',
      '/level maximum',
      '/on required',
    ])
    expect(err.details).toMatchObject({ service: 'lights.set', version: '1.0.0' })
    expect(called).toBe(false)
  })

  it('should check formats (ajv-formats)', async () => {
    const services = registry()
    services.register('mail.send', () => 'sent', {
      params: { type: 'string', format: 'email' },
    })
    await expect(services.call('mail.send', 'a@example.org')).resolves.toBe('sent')
    expect((await rejection(services.call('mail.send', 'nope'))).code).toBe('E_VALIDATION')
  })

  it('should count string length in Unicode code points (JSON Schema)', async () => {
    const services = registry()
    services.register('text.short', () => 'ok', { params: { type: 'string', maxLength: 2 } })
    await expect(services.call('text.short', '😀😀')).resolves.toBe('ok')
  })

  it('should check the result against the result schema and blame the service, not the caller', async () => {
    const services = registry()
    services.register('math.count', (n: number) => (n > 0 ? n : 'none'), {
      params: { type: 'number' },
      result: { type: 'integer' },
    })
    await expect(services.call('math.count', 3)).resolves.toBe(3)
    const err = await rejection(services.call('math.count', -1))
    expect(err.code).toBe('E_VALIDATION')
    expect(err.message).toMatch(
      /^Invalid result returned by service "math\.count@1\.0\.0": \/ must be integer/,
    )
    expect(err.message).toMatch(/fault of the service, not of the call/)
    expect(err.details).toMatchObject({ side: 'result', service: 'math.count' })
  })
})

describe('call options', () => {
  it('should refuse a bad timeoutMs or meta with E_VALIDATION', async () => {
    const services = registry()
    services.register('a.b', () => 1, { params: {} })
    for (const timeoutMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, '10']) {
      const err = await rejection(services.call('a.b', {}, { timeoutMs: timeoutMs as number }))
      expect(err.code).toBe('E_VALIDATION')
    }
    expect((await rejection(services.call('a.b', {}, { meta: 'x' as never }))).code).toBe(
      'E_VALIDATION',
    )
  })

  it('should never throw synchronously', () => {
    const services = registry()
    const pending = services.call('bad', {})
    expect(pending).toBeInstanceOf(Promise)
    return expect(pending).rejects.toMatchObject({ code: 'E_VALIDATION' })
  })

  it('should log late handler failures at debug level only', async () => {
    const lines: string[] = []
    const logger: Logger = {
      ...silentLogger,
      debug: (a: unknown, b?: string) => lines.push(`debug ${typeof a === 'string' ? a : b}`),
      warn: (a: unknown, b?: string) => lines.push(`warn ${typeof a === 'string' ? a : b}`),
      child: () => logger,
    }
    const services = createServiceRegistry({ logger })
    services.register(
      'a.late',
      (_p, context) =>
        new Promise((_resolve, reject) => {
          context.signal.addEventListener('abort', () => reject(new Error('aborted')))
        }),
      { params: {}, timeoutMs: 1 },
    )
    expect((await rejection(services.call('a.late', {}))).code).toBe('E_TIMEOUT')
    await new Promise((resolve) => setImmediate(resolve))
    expect(lines).toEqual(['debug handler failed after its call had ended'])
  })
})
