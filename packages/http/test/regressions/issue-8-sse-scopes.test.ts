import type { CloudEvent } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { openStream, startHub } from '../helpers.js'

describe('issue 8: an SSE stream delivers only what the token may see', () => {
  it('filters a wide pattern by the events.subscribe scopes, event by event', async () => {
    const hub = await startHub()
    const { token } = await hub.http.tokens.create({ name: 'a', scopes: ['events.subscribe:a.#'] })
    const stream = await openStream(hub, '?pattern=%23', token)
    expect(stream.res.status).toBe(200)
    await hub.kernel.bus.publish('b.secret', { pin: 1234 })
    await hub.kernel.bus.publish('a.visible', { ok: true })
    await expect.poll(() => stream.events().map((e: CloudEvent) => e.type)).toContain('a.visible')
    stream.close()
    expect(stream.events().map((e) => e.type)).toEqual(['a.visible'])
  })

  it('delivers state events only where state.read allows <namespace>.<key>', async () => {
    const hub = await startHub()
    const { token } = await hub.http.tokens.create({
      name: 'watcher',
      scopes: ['events.subscribe:#', 'state.read:lights.kitchen'],
    })
    const stream = await openStream(hub, '?pattern=state.%23', token)
    expect(stream.res.status).toBe(200)
    await hub.kernel.state.set('lights', 'door.code', '0000')
    await hub.kernel.state.set('lights', 'kitchen', { on: true })
    await expect
      .poll(() => stream.events().map((e: CloudEvent) => e.type))
      .toContain('state.lights.kitchen')
    stream.close()
    expect(stream.events().map((e) => e.type)).toEqual(['state.lights.kitchen'])
  })
})
