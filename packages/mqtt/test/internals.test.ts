import { silentLogger } from '@core/contracts'
import { createKernel } from '@core/kernel'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { backoffDelayMs, redact } from '../src/connection.js'
import * as api from '../src/index.js'
import { createMqttMetrics } from '../src/metrics.js'
import { decodePayload, encodePayload, parseJsonPayload } from '../src/payload.js'
import type { MqttBridgeStats } from '../src/types.js'

describe('public surface', () => {
  it('exports exactly these names', () => {
    expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
      [
        "DEFAULT_MQTT_MAX_IN_FLIGHT",
        "DEFAULT_MQTT_MAX_PACKET_BYTES",
        "DEFAULT_MQTT_PREFIX",
        "DEFAULT_MQTT_URL",
        "SIGNED_CALL_TYPE",
        "createMqttBridge",
      ]
    `)
  })
})

describe('reconnection backoff', () => {
  it('doubles from minDelayMs and never exceeds maxDelayMs (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1, max: 1_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (min, extra, attempt, random) => {
          const max = min + extra
          const delay = backoffDelayMs(attempt, min, max, random)
          expect(delay).toBeGreaterThanOrEqual(1)
          expect(delay).toBeLessThanOrEqual(max)
          const base = Math.min(max, min * 2 ** Math.min(attempt - 1, 30))
          expect(delay).toBeGreaterThanOrEqual(Math.floor(base * 0.8))
        },
      ),
    )
  })

  it('grows 1 s, 2 s, 4 s … up to 30 s with the default bounds and no jitter', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelayMs(a, 1_000, 30_000, 0.5))
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000])
  })
})

describe('payloads', () => {
  it('sends strings as text, other JSON values as JSON and nothing as the empty payload', () => {
    expect(encodePayload('ON')).toBe('ON')
    expect(encodePayload({ state: 'ON' })).toBe('{"state":"ON"}')
    expect(encodePayload(0)).toBe('0')
    expect(encodePayload(null)).toBe('null')
    expect(encodePayload(undefined)).toBe('')
  })

  it('refuses values that are not JSON with E_VALIDATION', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    for (const bad of [cyclic, () => 1, Symbol('x'), 10n]) {
      expect(() => encodePayload(bad)).toThrow(expect.objectContaining({ code: 'E_VALIDATION' }))
    }
  })

  it('parses inbound JSON and keeps anything else as text', () => {
    expect(decodePayload(Buffer.from('{"a":1}'))).toEqual({ a: 1 })
    expect(decodePayload(Buffer.from(' [1, 2]'))).toEqual([1, 2])
    expect(decodePayload(Buffer.from('true'))).toBe(true)
    expect(decodePayload(Buffer.from('21.5'))).toBe(21.5)
    expect(decodePayload(Buffer.from('"quoted"'))).toBe('quoted')
    expect(decodePayload(Buffer.from('online'))).toBe('online')
    expect(decodePayload(Buffer.from('{"broken":'))).toBe('{"broken":')
    expect(decodePayload(Buffer.alloc(0))).toBe('')
  })

  it('round-trips any JSON value through encode and decode (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        fc.pre(typeof value !== 'string')
        expect(decodePayload(Buffer.from(encodePayload(value)))).toEqual(
          JSON.parse(JSON.stringify(value)),
        )
      }),
    )
  })

  it('says why a JSON topic payload is refused', () => {
    expect(parseJsonPayload(Buffer.from('{"a":1}'))).toEqual({ ok: true, value: { a: 1 } })
    expect(parseJsonPayload(Buffer.alloc(0))).toEqual({ ok: false, reason: 'the payload is empty' })
    const bad = parseJsonPayload(Buffer.from('nope'))
    expect(bad.ok).toBe(false)
  })
})

describe('redact', () => {
  it('removes credentials from broker URLs', () => {
    expect(redact('mqtt://user:secret@127.0.0.1:1883')).toBe('mqtt://127.0.0.1:1883')
    expect(redact('mqtts://broker.example:8883/')).toBe('mqtts://broker.example:8883')
  })
})

describe('metrics', () => {
  it('reads the bridge counters at scrape time, reconnects being the connections after the first', async () => {
    const stats: MqttBridgeStats = {
      connected: true,
      connects: 3,
      received: 7,
      published: 5,
      dropped: 1,
      rejected: 2,
      calls: 4,
      callErrors: 1,
      signedCalls: 3,
      signatureRefused: { replayed: 2 },
      subscriptions: 0,
      inFlight: 2,
      paused: 0,
      logsSuppressed: 0,
    }
    const registry = createKernel({ logger: silentLogger }).metrics
    createMqttMetrics(() => stats).register(registry)
    stats.received++
    const text = await registry.metrics()
    const sample = (name: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${name} `))
          ?.split(' ')[1],
      )
    expect(sample('core_mqtt_messages_received_total')).toBe(8)
    expect(sample('core_mqtt_messages_published_total')).toBe(5)
    expect(sample('core_mqtt_messages_dropped_total')).toBe(1)
    expect(sample('core_mqtt_messages_rejected_total')).toBe(2)
    expect(sample('core_mqtt_reconnects_total')).toBe(2)
    expect(sample('core_mqtt_connected')).toBe(1)
    expect(sample('core_mqtt_calls_total')).toBe(4)
    expect(sample('core_mqtt_call_errors_total')).toBe(1)
    expect(sample('core_mqtt_messages_in_flight')).toBe(2)
    expect(sample('core_mqtt_signed_calls_total')).toBe(3)
    expect(sample('core_mqtt_signature_refused_total{reason="replayed"}')).toBe(2)
  })
})
