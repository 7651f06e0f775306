import {
  CoreError,
  type ServiceDescriptor,
  ServiceDescriptorSchema,
  silentLogger,
} from '@core/contracts'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { describe, expect, it } from 'vitest'
import { createServiceRegistry } from '../src/index.js'
import { onOff, registry, rejection, thrown } from './service-registry-helpers.js'

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
