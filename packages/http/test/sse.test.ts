import { describe, expect, it } from 'vitest'
import { openStream, startHub, until } from './helpers.js'

describe('events over Server-Sent Events', () => {
  it('streams each matching event as a CloudEvent with event and id fields', async () => {
    const hub = await startHub()
    const stream = await openStream(hub, '?pattern=lights.%23')
    expect(stream.res.status).toBe(200)
    expect(stream.res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    await until(() => stream.frames.length > 0) // the opening comment
    await hub.kernel.bus.publish('lights.kitchen.changed', { on: true })
    await hub.kernel.bus.publish('doors.front.opened', { open: true })
    const viaHttp = await hub.call('/api/v1/events/lights.hall.changed', {
      method: 'POST',
      body: { on: false },
    })
    expect(viaHttp.status).toBe(202)
    await until(() => stream.events().length === 2)
    const [first, second] = stream.events()
    expect(first).toMatchObject({
      specversion: '1.0',
      type: 'lights.kitchen.changed',
      data: { on: true },
    })
    expect(second).toMatchObject({ type: 'lights.hall.changed', source: '/core/http' })
    const frame = stream.frames.find((f) => f.data !== undefined)
    expect(frame?.event).toBe('lights.kitchen.changed')
    expect(frame?.id).toBe(first?.id)
    stream.close()
  })

  it('sends heartbeat comments while idle', async () => {
    const hub = await startHub({ heartbeatMs: 20 })
    const stream = await openStream(hub, '?pattern=nothing.here')
    await until(() => stream.frames.some((f) => f.comment === 'heartbeat'))
    stream.close()
  })

  it('unsubscribes from the bus when the client disconnects', async () => {
    const hub = await startHub()
    const baseline = hub.kernel.bus.stats().subscriptions
    const stream = await openStream(hub, '')
    await until(() => hub.kernel.bus.stats().subscriptions === baseline + 1)
    const scrape = async () =>
      (await (await hub.call('/metrics')).text()).match(/^core_http_sse_clients (\d+)/m)?.[1]
    expect(await scrape()).toBe('1')
    stream.close()
    await until(() => hub.kernel.bus.stats().subscriptions === baseline)
    expect(await scrape()).toBe('0')
    // Events published after the disconnect reach nobody and break nothing.
    const report = await hub.kernel.bus.publish('lights.x', 1)
    expect(report.failed).toBe(0)
  })

  it('ends open streams when the server closes', async () => {
    const hub = await startHub()
    const baseline = hub.kernel.bus.stats().subscriptions
    const stream = await openStream(hub, '?pattern=%23')
    await until(() => stream.frames.length > 0)
    await hub.http.close()
    await until(() => stream.ended())
    expect(hub.kernel.bus.stats().subscriptions).toBe(baseline)
  })

  it('refuses a malformed pattern with 400 problem+json before streaming', async () => {
    const hub = await startHub()
    const res = await hub.call('/api/v1/events?pattern=lights..%23')
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(((await res.json()) as { code: string }).code).toBe('E_VALIDATION')
  })

  it('needs an events.subscribe or state.read scope, and a token', async () => {
    const hub = await startHub()
    const { token } = await hub.http.tokens.create({
      name: 'watcher',
      scopes: ['events.subscribe:lights.#'],
    })
    const ok = await openStream(hub, '?pattern=lights.*.changed', token)
    expect(ok.res.status).toBe(200)
    ok.close()
    const { token: unrelated } = await hub.http.tokens.create({
      name: 'caller',
      scopes: ['services.call:lights.#'],
    })
    const refused = await hub.call('/api/v1/events?pattern=%23', { token: unrelated })
    expect(refused.status).toBe(403)
    const none = await hub.call('/api/v1/events?pattern=lights.%23', { token: null })
    expect(none.status).toBe(401)
  })
})
