import { CoreError, silentLogger } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { createServiceRegistry, type ServiceContext } from '../../src/index.js'

// Issue 8: the handler's context was the registry's own pending-call object, through which a
// plugin read another call's params and meta, settled it with a forged result and ran its handler.

const anything = { params: {} }
const OWN_FIELDS = ['caller', 'meta', 'name', 'traceparent', 'version']

/** Every object reachable from `root` through own properties, accessors and prototypes. */
function reachable(root: object): Set<unknown> {
  const seen = new Set<unknown>()
  const stack: unknown[] = [root]
  while (stack.length > 0) {
    const value = stack.pop()
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null) continue
    if (seen.has(value)) continue
    seen.add(value)
    stack.push(Object.getPrototypeOf(value))
    for (const key of Reflect.ownKeys(value)) {
      const d = Object.getOwnPropertyDescriptor(value, key)
      stack.push(d?.value, d?.get, d?.set)
    }
  }
  return seen
}

describe('issue 8: a handler context reaches nothing of the registry', () => {
  it('should hand a plain frozen object of the documented fields only', async () => {
    const services = createServiceRegistry({ logger: silentLogger })
    let seen: ServiceContext | undefined
    services.register(
      'b.spy',
      (_params, context) => {
        seen = context
        return null
      },
      anything,
    )
    await services.call(
      'b.spy',
      {},
      {
        meta: {
          caller: 'a',
          token: 't1',
          traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        },
      },
    )
    const context = seen as ServiceContext
    expect(Object.isFrozen(context)).toBe(true)
    expect(Reflect.ownKeys(context).sort()).toEqual(OWN_FIELDS)
    // The prototype: the two getters only, frozen, and nothing behind it.
    const proto = Object.getPrototypeOf(context) as object
    expect(Object.getPrototypeOf(proto)).toBeNull()
    expect(Object.isFrozen(proto)).toBe(true)
    expect(Reflect.ownKeys(proto).sort()).toEqual(['deadlineAt', 'signal'])
    expect(context.signal).toBeInstanceOf(AbortSignal)
    expect(Object.isFrozen(context.meta)).toBe(true)
    expect(context.caller).toBe('a')
    expect(context.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')
    expect(context.deadlineAt).toBeGreaterThan(0)
    for (const key of ['params', 'succeed', 'fail', 'queue', 'target', 'route', 'expire']) {
      expect(key in context).toBe(false)
    }
  })

  it('should not let one handler settle, read or run another call in flight', async () => {
    const services = createServiceRegistry({ logger: silentLogger })
    let release: (value: unknown) => void = () => {}
    services.register(
      'victim.slow',
      () =>
        new Promise((resolve) => {
          release = resolve
        }),
      anything,
    )
    let reached: Set<unknown> | undefined
    services.register(
      'attacker.peek',
      (_params, context) => {
        reached = reachable(context)
        return null
      },
      anything,
    )
    const victim = services.call(
      'victim.slow',
      { secret: 's' },
      { meta: { token: 'victim-token' } },
    )
    await services.call('attacker.peek', {})
    // Nothing reachable is a settle function, a queue or a record with the victim's params.
    for (const value of reached ?? []) {
      const record = value as Record<string, unknown>
      expect(typeof record.succeed).not.toBe('function')
      expect(typeof record.fail).not.toBe('function')
      expect(record.params).toBeUndefined()
      expect(record.heap).toBeUndefined()
      expect(JSON.stringify(Object.getOwnPropertyNames(value))).not.toContain('victim')
    }
    release({ real: true })
    await expect(victim).resolves.toEqual({ real: true })
  })

  it('should not hand the handler the caller’s meta object itself', async () => {
    const services = createServiceRegistry({ logger: silentLogger })
    services.register(
      'b.mutate',
      (_params, context) => {
        ;(context.meta as Record<string, unknown>).caller = 'forged'
        return null
      },
      anything,
    )
    const meta = { caller: 'a' }
    const error = await services.call('b.mutate', {}, { meta }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(CoreError.is(error, 'E_HANDLER')).toBe(true)
    expect(meta.caller).toBe('a')
  })
})

describe('issue 8: params and results are not shared by reference', () => {
  it('should deep-freeze params so the handler cannot change what the caller holds', async () => {
    const services = createServiceRegistry({ logger: silentLogger })
    services.register(
      'b.change',
      (params: { list: number[] }) => {
        params.list.push(4)
        return null
      },
      anything,
    )
    const params = { list: [1, 2, 3] }
    const error = await services.call('b.change', params).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(CoreError.is(error, 'E_HANDLER')).toBe(true)
    expect(params.list).toEqual([1, 2, 3])
  })

  it('should deep-freeze results so the caller cannot change what the handler keeps', async () => {
    const services = createServiceRegistry({ logger: silentLogger })
    const kept = { devices: [{ id: 'lamp' }] }
    services.register('b.keep', async () => kept, anything)
    const result = (await services.call('b.keep', {})) as typeof kept
    expect(Object.isFrozen(result.devices[0])).toBe(true)
    expect(() => {
      result.devices.push({ id: 'forged' })
    }).toThrow(TypeError)
  })

  it('should give the handler a private copy of params holding binary data', async () => {
    const services = createServiceRegistry({ logger: silentLogger })
    services.register(
      'b.bytes',
      (params: { bytes: Uint8Array }) => {
        params.bytes[0] = 9
        return params.bytes[0]
      },
      anything,
    )
    const bytes = new Uint8Array([1])
    await expect(services.call('b.bytes', { bytes })).resolves.toBe(9)
    expect(bytes[0]).toBe(1)
  })
})
