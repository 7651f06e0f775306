import {
  CoreError,
  type Logger,
  type ServiceDescriptor,
  ServiceDescriptorSchema,
  silentLogger,
} from '@core/contracts'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'
import { createServiceRegistry, type ServiceContext } from '../src/index.js'

const onOff = {
  type: 'object',
  properties: { on: { type: 'boolean' }, level: { type: 'integer', minimum: 0, maximum: 100 } },
  required: ['on'],
  additionalProperties: false,
}

function registry(): ReturnType<typeof createServiceRegistry> {
  return createServiceRegistry({ logger: silentLogger })
}

async function rejection(promise: Promise<unknown>): Promise<CoreError> {
  try {
    await promise
  } catch (error) {
    expect(CoreError.is(error)).toBe(true)
    return error as CoreError
  }
  throw new Error('expected the promise to reject')
}

function thrown(fn: () => unknown): CoreError {
  try {
    fn()
  } catch (error) {
    expect(CoreError.is(error)).toBe(true)
    return error as CoreError
  }
  throw new Error('expected a throw')
}

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

describe('errors from handlers', () => {
  it('should wrap a thrown non-CoreError as E_HANDLER, keeping the cause', async () => {
    const services = registry()
    const boom = new Error('bulb exploded')
    services.register(
      'lights.set',
      async () => {
        throw boom
      },
      { params: {} },
    )
    const err = await rejection(services.call('lights.set', {}))
    expect(err.code).toBe('E_HANDLER')
    expect(err.message).toBe('Service "lights.set@1.0.0" failed: bulb exploded')
    expect(err.cause).toBe(boom)
  })

  it('should wrap a synchronous throw and a thrown non-Error as E_HANDLER', async () => {
    const services = registry()
    services.register(
      'a.sync',
      () => {
        throw new TypeError('bad')
      },
      { params: {} },
    )
    services.register(
      'a.string',
      () => {
        throw 'just a string'
      },
      { params: {} },
    )
    expect((await rejection(services.call('a.sync', {}))).code).toBe('E_HANDLER')
    const err = await rejection(services.call('a.string', {}))
    expect(err.code).toBe('E_HANDLER')
    expect(err.cause).toBe('just a string')
  })

  it('should treat a returned thenable whose then() throws as a handler failure', async () => {
    const services = registry()
    const evil = {
      // biome-ignore lint/suspicious/noThenProperty: a hostile thenable on purpose
      then() {
        throw new Error('then exploded')
      },
    }
    services.register('a.evil', () => evil, { params: {} })
    const err = await rejection(services.call('a.evil', {}))
    expect(err.code).toBe('E_HANDLER')
    expect(err.message).toMatch(/then exploded/)
  })

  it('should pass a CoreError thrown by the handler through unchanged', async () => {
    const services = registry()
    const own = new CoreError('E_NOT_FOUND', 'No light "attic"', { details: { light: 'attic' } })
    services.register(
      'lights.get',
      () => {
        throw own
      },
      { params: {} },
    )
    services.register('lights.get2', async () => Promise.reject(own), { params: {} })
    expect(await rejection(services.call('lights.get', {}))).toBe(own)
    expect(await rejection(services.call('lights.get2', {}))).toBe(own)
  })
})

describe('not found', () => {
  it('should name the closest registered names', async () => {
    const services = registry()
    for (const name of [
      'lights.toggle',
      'lights.turn_on',
      'lights.set',
      'lights.get',
      'climate.set',
    ]) {
      services.register(name, () => 1, { params: {} })
    }
    const err = await rejection(services.call('lights.togle', {}))
    expect(err.code).toBe('E_SERVICE_NOT_FOUND')
    expect(err.message).toBe(
      'No service "lights.togle" is registered; did you mean "lights.toggle"?',
    )
    expect(err.details).toEqual({ service: 'lights.togle', closest: ['lights.toggle'] })
    const two = await rejection(services.call('lights.xet', {}))
    expect(two.message).toBe(
      'No service "lights.xet" is registered; did you mean "lights.get" or "lights.set"?',
    )
    expect((two.details as { closest: string[] }).closest).toEqual(['lights.get', 'lights.set'])
  })

  it('should say so when nothing is close', async () => {
    const services = registry()
    services.register('lights.set', () => 1, { params: {} })
    const err = await rejection(services.call('weather.forecast', {}))
    expect(err.code).toBe('E_SERVICE_NOT_FOUND')
    expect(err.message).toMatch(/no registered service has a similar name/)
    expect(err.details).toEqual({ service: 'weather.forecast', closest: [] })
  })

  it('should refuse a malformed name with E_VALIDATION rather than not found', async () => {
    const services = registry()
    expect((await rejection(services.call('no-dot', {}))).code).toBe('E_VALIDATION')
  })

  it('should name the registered versions when none satisfies the range', async () => {
    const services = registry()
    services.register('a.b', () => 1, { params: {}, version: '1.0.0' })
    services.register('a.b', () => 2, { params: {}, version: '2.1.0' })
    const err = await rejection(services.call('a.b', {}, { version: '^3' }))
    expect(err.code).toBe('E_SERVICE_NOT_FOUND')
    expect(err.message).toMatch(
      /No version of service "a\.b" satisfies "\^3"; registered: 2\.1\.0, 1\.0\.0/,
    )
    expect(err.details).toEqual({ service: 'a.b', version: '^3', available: ['2.1.0', '1.0.0'] })
  })
})

describe('versions', () => {
  it('should call the highest version by default and the highest satisfying a range otherwise', async () => {
    const services = registry()
    for (const version of ['1.0.0', '1.4.2', '2.0.0', '2.1.0-beta.1']) {
      services.register('a.v', () => version, { params: {}, version })
    }
    await expect(services.call('a.v', {})).resolves.toBe('2.1.0-beta.1')
    await expect(services.call('a.v', {}, { version: '^1' })).resolves.toBe('1.4.2')
    await expect(services.call('a.v', {}, { version: '~1.0' })).resolves.toBe('1.0.0')
    await expect(services.call('a.v', {}, { version: '*' })).resolves.toBe('2.0.0')
    await expect(services.call('a.v', {}, { version: '>=2.1.0-beta.0' })).resolves.toBe(
      '2.1.0-beta.1',
    )
    await expect(services.call('a.v', {}, { version: '1.4.2' })).resolves.toBe('1.4.2')
  })

  it('should refuse a range that is not semver with E_VALIDATION', async () => {
    const services = registry()
    services.register('a.v', () => 1, { params: {} })
    const err = await rejection(services.call('a.v', {}, { version: 'newest' }))
    expect(err.code).toBe('E_VALIDATION')
    expect(err.message).toMatch(/Invalid version range "newest"/)
    expect(thrown(() => services.has('a.v', 'newest')).code).toBe('E_VALIDATION')
  })

  it('should answer has() by name and by range', () => {
    const services = registry()
    services.register('a.v', () => 1, { params: {}, version: '1.2.0' })
    expect(services.has('a.v')).toBe(true)
    expect(services.has('a.v', '^1')).toBe(true)
    expect(services.has('a.v', '^2')).toBe(false)
    expect(services.has('a.w')).toBe(false)
    expect(services.has('a.w', '*')).toBe(false)
  })
})

describe('list', () => {
  it('should describe every local service, valid against ServiceDescriptorSchema', () => {
    const services = registry()
    services.register('lights.set', () => 1, {
      params: onOff,
      result: { type: 'integer' },
      version: '1.2.0',
      timeoutMs: 500,
      description: 'Turns a light on or off',
      idempotent: true,
    })
    services.register('lights.set', () => 1, { params: {}, version: '2.0.0' })
    services.register('climate.get', () => 1, { params: {} })
    const list = services.list()
    expect(list).toEqual([
      { name: 'climate.get', version: '1.0.0', params: {}, timeoutMs: 30_000, idempotent: false },
      { name: 'lights.set', version: '2.0.0', params: {}, timeoutMs: 30_000, idempotent: false },
      {
        name: 'lights.set',
        version: '1.2.0',
        description: 'Turns a light on or off',
        params: onOff,
        result: { type: 'integer' },
        timeoutMs: 500,
        idempotent: true,
      },
    ])
    const validate = new Ajv2020().compile(ServiceDescriptorSchema)
    for (const d of list) expect(validate(d)).toBe(true)
  })

  it('should hand out copies that cannot change the registry', async () => {
    const services = registry()
    services.register('a.b', () => 1, { params: { type: 'number' } })
    const [d] = services.list()
    ;(d as ServiceDescriptor).params.type = 'string'
    expect(services.list()[0]?.params).toEqual({ type: 'number' })
    await expect(services.call('a.b', 3)).resolves.toBe(1)
  })

  it('should use the registry’s defaultTimeoutMs for services without their own', () => {
    const services = createServiceRegistry({ logger: silentLogger, defaultTimeoutMs: 1234 })
    services.register('a.b', () => 1, { params: {} })
    expect(services.list()[0]?.timeoutMs).toBe(1234)
  })

  it('should refuse a defaultTimeoutMs that is not an integer ≥ 1', () => {
    for (const defaultTimeoutMs of [0, 2.5, -3]) {
      expect(thrown(() => createServiceRegistry({ defaultTimeoutMs })).code).toBe('E_VALIDATION')
    }
  })
})

describe('undo', () => {
  it('should unregister one version, leaving the others, and be harmless the second time', async () => {
    const services = registry()
    const undo1 = services.register('a.v', () => 1, { params: {}, version: '1.0.0' })
    const undo2 = services.register('a.v', () => 2, { params: {}, version: '2.0.0' })
    undo2()
    await expect(services.call('a.v', {})).resolves.toBe(1)
    undo2()
    expect(services.has('a.v')).toBe(true)
    undo1()
    expect(services.has('a.v')).toBe(false)
    expect((await rejection(services.call('a.v', {}))).code).toBe('E_SERVICE_NOT_FOUND')
    // the same name@version can be registered again after its undo
    services.register('a.v', () => 3, { params: {}, version: '2.0.0' })
    await expect(services.call('a.v', {})).resolves.toBe(3)
    // an old undo does not remove the new registration
    undo2()
    expect(services.has('a.v')).toBe(true)
  })

  it('should be Disposable', () => {
    const services = registry()
    {
      using _registration = services.register('a.b', () => 1, { params: {} })
      expect(services.has('a.b')).toBe(true)
    }
    expect(services.has('a.b')).toBe(false)
    const undo = services.register('a.b', () => 1, { params: {} })
    expect(typeof undo[Symbol.dispose]).toBe('function')
    undo[Symbol.dispose]()
    expect(services.has('a.b')).toBe(false)
  })

  it('should let a call already running finish after its service is unregistered', async () => {
    const services = registry()
    let release: (value: string) => void = () => {}
    const undo = services.register(
      'a.slow',
      () => new Promise<string>((resolve) => (release = resolve)),
      {
        params: {},
      },
    )
    const pending = services.call('a.slow', {})
    undo()
    release('done')
    await expect(pending).resolves.toBe('done')
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
