import type { CloudEvent } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { startHub } from './helpers.js'

const policy = {
  version: 1 as const,
  rules: [
    { effect: 'allow' as const, subject: 'plugin:*', action: '*', resource: '#' },
    { effect: 'allow' as const, subject: 'token:*', action: '*', resource: '#' },
    {
      effect: 'deny' as const,
      subject: 'token:*',
      action: 'services.call',
      resource: 'lights.fail',
    },
    { effect: 'deny' as const, subject: 'token:*', action: 'events.publish', resource: 'alarm.#' },
    { effect: 'deny' as const, subject: 'token:*', action: 'state.*', resource: 'vault.#' },
    {
      effect: 'deny' as const,
      subject: 'token:*',
      action: 'events.subscribe',
      resource: 'alarm.#',
    },
  ],
}

/** A hub with the policy, the denial events it publishes, and a scoped token. */
async function policyHub() {
  const hub = await startHub({}, { policy })
  const denied: CloudEvent[] = []
  hub.kernel.bus.subscribe('core.security.denied', (e) => {
    denied.push(e)
  })
  const scoped = await hub.http.tokens.create({
    name: 'scoped',
    scopes: ['services.call:lights.#', 'events.publish:#', 'state.write:#', 'state.read:#'],
  })
  return { ...hub, denied, scoped }
}

describe('the operator policy on HTTP tokens', () => {
  it('refuses a call, a publish and a state write the scopes allow with 403 naming the rule', async () => {
    const hub = await policyHub()
    const expectRefused = async (res: Response, rule: number) => {
      expect(res.status).toBe(403)
      expect(res.headers.get('content-type')).toContain('application/problem+json')
      const body = (await res.json()) as { code: string; detail: string }
      expect(body.code).toBe('E_FORBIDDEN')
      expect(body.detail).toContain(`rule ${rule} `)
    }
    const token = hub.scoped.token
    await expectRefused(
      await hub.call('/api/v1/services/lights.fail', { method: 'POST', body: {}, token }),
      2,
    )
    await expectRefused(
      await hub.call('/api/v1/events/alarm.kitchen', { method: 'POST', body: {}, token }),
      3,
    )
    await expectRefused(
      await hub.call('/api/v1/state/vault/code', { method: 'PUT', body: { value: 1 }, token }),
      4,
    )
    // What the policy allows still works.
    const ok = await hub.call('/api/v1/events/lights.kitchen', { method: 'POST', body: {}, token })
    expect(ok.status).toBe(202)
    await expect
      .poll(() => hub.denied.map((e) => (e.data as { rule?: number }).rule))
      .toEqual([2, 3, 4])
    expect(hub.denied[0]?.data).toMatchObject({
      subject: `token:${hub.scoped.id}`,
      action: 'services.call',
      resource: 'lights.fail',
    })
    expect(hub.kernel.security.counts()).toEqual({
      'token services.call': 1,
      'token events.publish': 1,
      'token state.write': 1,
    })
  })

  it('applies to the admin token too, and leaves refused services out of the listing', async () => {
    const hub = await policyHub()
    const res = await hub.call('/api/v1/services/lights.fail', { method: 'POST', body: {} })
    expect(res.status).toBe(403)
    const listed = (await (await hub.call('/api/v1/services')).json()) as Array<{ name: string }>
    expect(listed.map((s) => s.name)).toContain('lights.set')
    expect(listed.map((s) => s.name)).not.toContain('lights.fail')
  })

  it('refuses an event stream whose pattern a deny overlaps', async () => {
    const hub = await policyHub()
    const res = await hub.call('/api/v1/events?pattern=alarm.%23')
    expect(res.status).toBe(403)
    await expect
      .poll(() => hub.denied.map((e) => (e.data as { action: string }).action))
      .toEqual(['events.subscribe'])
  })

  it('reports a refusal by the token scopes alone (no policy rule) as well', async () => {
    const hub = await startHub()
    const denied: CloudEvent[] = []
    hub.kernel.bus.subscribe('core.security.denied', (e) => {
      denied.push(e)
    })
    const created = await hub.http.tokens.create({ name: 'narrow', scopes: ['services.call:x.#'] })
    const res = await hub.call('/api/v1/services/lights.set', {
      method: 'POST',
      body: { room: 'a', on: true },
      token: created.token,
    })
    expect(res.status).toBe(403)
    await expect.poll(() => denied.length).toBe(1)
    expect(denied[0]?.data).toMatchObject({
      subject: `token:${created.id}`,
      action: 'services.call',
      resource: 'lights.set',
    })
    expect(denied[0]?.data).not.toHaveProperty('rule')
    expect(hub.kernel.security.counts()).toEqual({ 'token services.call': 1 })
  })
})
