import { describe, expect, it } from 'vitest'
import { EVENTS_MISSED_EVENT } from '../src/index.js'
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
    // Its own subscription, and the replay buffer's, which the first stream starts.
    await until(() => hub.kernel.bus.stats().subscriptions === baseline + 2)
    const scrape = async () =>
      (await (await hub.call('/metrics')).text()).match(/^core_http_sse_clients (\d+)/m)?.[1]
    expect(await scrape()).toBe('1')
    stream.close()
    await until(() => hub.kernel.bus.stats().subscriptions === baseline + 1)
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

  it('resumes after Last-Event-ID with the missed events its pattern and scopes allow, then live ones', async () => {
    const hub = await startHub()
    const { token } = await hub.http.tokens.create({
      name: 'watcher',
      scopes: ['events.subscribe:lights.#'],
    })
    const first = await openStream(hub, '?pattern=%23', token)
    await until(() => first.frames.length > 0)
    await hub.kernel.bus.publish('lights.a.changed', 1)
    await until(() => first.events().length === 1)
    const seen = first.events()[0]?.id as string
    first.close()
    // While the client is away: two it may see, one outside its scopes.
    await hub.kernel.bus.publish('lights.b.changed', 2)
    await hub.kernel.bus.publish('doors.front.opened', 3)
    await hub.kernel.bus.publish('lights.c.changed', 4)
    const again = await openStream(hub, '?pattern=%23', token, { 'last-event-id': seen })
    await until(() => again.events().length === 2)
    await hub.kernel.bus.publish('lights.d.changed', 5)
    await until(() => again.events().length === 3)
    expect(again.events().map((e) => [e.type, e.data])).toEqual([
      ['lights.b.changed', 2],
      ['lights.c.changed', 4],
      ['lights.d.changed', 5],
    ])
    again.close()
  })

  it('replays only what matches the pattern of the new stream', async () => {
    const hub = await startHub()
    const first = await openStream(hub, '?pattern=%23')
    await until(() => first.frames.length > 0)
    await hub.kernel.bus.publish('lights.a.changed', 1)
    await until(() => first.events().length === 1)
    first.close()
    await hub.kernel.bus.publish('doors.front.opened', 2)
    await hub.kernel.bus.publish('lights.b.changed', 3)
    const seen = first.events()[0]?.id as string
    const again = await openStream(hub, '?pattern=doors.%23', undefined, {
      'last-event-id': seen,
    })
    await until(() => again.events().length === 1)
    await hub.kernel.bus.publish('doors.back.opened', 4)
    await until(() => again.events().length === 2)
    expect(again.events().map((e) => e.data)).toEqual([2, 4])
    again.close()
  })

  it('says plainly that events were missed when Last-Event-ID is older than the buffer', async () => {
    const hub = await startHub({ sseReplayEvents: 2 })
    const first = await openStream(hub, '?pattern=lights.%23')
    await until(() => first.frames.length > 0)
    for (const n of [1, 2, 3]) await hub.kernel.bus.publish(`lights.n${n}.changed`, n)
    await until(() => first.events().length === 3)
    first.close()
    const [one, , three] = first.events()
    const old = await openStream(hub, '?pattern=lights.%23', undefined, {
      'last-event-id': one?.id as string,
    })
    await until(() => old.events().length === 1)
    const missed = old.frames.find((f) => f.data !== undefined)
    expect(missed?.event).toBe(EVENTS_MISSED_EVENT)
    expect(old.events()[0]).toMatchObject({
      specversion: '1.0',
      type: 'core.http.events_missed',
      source: '/core/http',
      data: { lastEventId: one?.id, replayEvents: 2 },
    })
    // The stream goes on live after the notice.
    await hub.kernel.bus.publish('lights.n4.changed', 4)
    await until(() => old.events().length === 2)
    expect(old.events()[1]).toMatchObject({ type: 'lights.n4.changed', data: 4 })
    old.close()
    // The newest ids are still held (3 and 4): resuming after the third gets the fourth only.
    const recent = await openStream(hub, '?pattern=lights.%23', undefined, {
      'last-event-id': three?.id as string,
    })
    await until(() => recent.events().length === 1)
    expect(recent.events().map((e) => e.data)).toEqual([4])
    recent.close()
  })

  it('sends the missed-events notice for an id it never sent', async () => {
    const hub = await startHub()
    const stream = await openStream(hub, '', undefined, { 'last-event-id': 'not-an-id' })
    await until(() => stream.events().length === 1)
    expect(stream.events()[0]).toMatchObject({
      type: EVENTS_MISSED_EVENT,
      data: { lastEventId: 'not-an-id', replayEvents: 1_000 },
    })
    stream.close()
  })
})
