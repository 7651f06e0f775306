import { describe, expect, it } from 'vitest'
import { startHub } from '../helpers.js'

describe('issue 8: state.* and core.* events cannot be published over HTTP', () => {
  it('refuses state.* and core.* with 403 E_FORBIDDEN even for the admin token', async () => {
    const hub = await startHub()
    const seen: string[] = []
    hub.kernel.bus.subscribe('#', (event) => {
      seen.push(event.type)
    })
    for (const type of ['state.lights.kitchen', 'core.plugin.failed', 'state']) {
      const res = await hub.call(`/api/v1/events/${type}`, {
        method: 'POST',
        body: { namespace: 'other', key: 'x', value: null },
      })
      expect({ type, status: res.status }).toEqual({ type, status: 403 })
      const body = (await res.json()) as { code: string; detail: string }
      expect(body.code).toBe('E_FORBIDDEN')
      expect(body.detail).toContain('published by the kernel alone')
    }
    // A positive signal first: an allowed event arrives, the forged ones never did.
    const ok = await hub.call('/api/v1/events/lights.kitchen.changed', { method: 'POST', body: 1 })
    expect(ok.status).toBe(202)
    await expect.poll(() => seen).toContain('lights.kitchen.changed')
    expect(seen.filter((t) => t.startsWith('state') || t.startsWith('core'))).toEqual([])
  })

  it('refuses them for a token whose scopes cover every topic', async () => {
    const hub = await startHub()
    const { token } = await hub.http.tokens.create({ name: 'wide', scopes: ['events.publish:#'] })
    const res = await hub.call('/api/v1/events/state.devices.lamp', {
      method: 'POST',
      body: {},
      token,
    })
    expect(res.status).toBe(403)
  })
})
