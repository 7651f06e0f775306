import { type CloudEvent, CoreError } from '@core/contracts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MindBusCaller } from '../src/index.js'
import {
  dropTopology,
  MemoryDirectory,
  makeNode,
  requireBroker,
  skipBroker,
  type TestNode,
  uniqueTopology,
} from './helpers.js'

describe.skipIf(skipBroker)('MindBus authorize hook on a real RabbitMQ', () => {
  const topology = uniqueTopology()
  const directory = new MemoryDirectory()
  const asked: Array<{ caller: MindBusCaller; action: string; resource: string }> = []
  let a: TestNode
  let b: TestNode

  beforeAll(async () => {
    requireBroker()
    a = makeNode('a', directory, topology, { exportEvents: ['probe.#'] })
    b = makeNode('b', directory, topology, {
      importEvents: ['probe.#'],
      authorize: (caller, { action, resource }) => {
        asked.push({ caller, action, resource })
        if (resource.includes('secret')) {
          throw new CoreError('E_FORBIDDEN', `${caller.node} may not ${action} "${resource}"`)
        }
      },
    })
    b.services.register('vault.status', () => 'open for business', { params: {} })
    b.services.register('vault.secret', () => 'the secret', { params: {} })
    directory.set('a', a.services)
    directory.set('b', b.services)
    await Promise.all([a.mindbus.start(a.services), b.mindbus.start(b.services)])
  })

  afterAll(async () => {
    await Promise.allSettled([a?.mindbus.close(), b?.mindbus.close()])
    await dropTopology(topology, ['a', 'b'], ['vault'])
  })

  it('serves a command the hook lets through, with the caller as node uid and broker user', async () => {
    expect(await a.services.call('vault.status', {})).toBe('open for business')
    expect(asked.at(-1)).toEqual({
      caller: { node: 'uid-a', user: 'guest' },
      action: 'services.call',
      resource: 'vault.status',
    })
  })

  it('answers a refused command with the hook’s error, never running the handler', async () => {
    const error = await a.services.call('vault.secret', {}).catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_FORBIDDEN')).toBe(true)
    expect((error as Error).message).toContain('uid-a may not services.call "vault.secret"')
    expect(b.mindbus.stats().served.E_FORBIDDEN).toBe(1)
  })

  it('drops a refused imported event and counts it, delivering the allowed ones', async () => {
    const got: CloudEvent[] = []
    b.bus.subscribe('probe.#', (e) => {
      got.push(e)
    })
    await a.bus.publish('probe.secret', { n: 1 })
    await a.bus.publish('probe.open', { n: 2 })
    await expect.poll(() => got.map((e) => e.type)).toEqual(['probe.open'])
    await expect.poll(() => b.mindbus.stats().eventsRefused).toBe(1)
  })
})
