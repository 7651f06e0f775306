import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { allows, isLoopbackHost, type Principal } from '../src/index.js'

const principal = (permissions: Principal['permissions'], admin = false): Principal => ({
  id: 't',
  name: 't',
  admin,
  permissions,
})

describe('isLoopbackHost', () => {
  it('accepts every address of 127.0.0.0/8, ::1 and localhost', () => {
    const octet = fc.integer({ min: 0, max: 255 })
    fc.assert(
      fc.property(octet, octet, octet, (a, b, c) => {
        expect(isLoopbackHost(`127.${a}.${b}.${c}`)).toBe(true)
        expect(isLoopbackHost(`::ffff:127.${a}.${b}.${c}`)).toBe(true)
      }),
    )
    for (const host of [
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      'localhost',
      'LOCALHOST',
      'app.localhost',
    ]) {
      expect({ host, loopback: isLoopbackHost(host) }).toEqual({ host, loopback: true })
    }
  })

  it('refuses every other IPv4 address and the wildcard addresses', () => {
    const octet = fc.integer({ min: 0, max: 255 })
    fc.assert(
      fc.property(
        octet.filter((a) => a !== 127),
        octet,
        octet,
        octet,
        (a, b, c, d) => {
          expect(isLoopbackHost(`${a}.${b}.${c}.${d}`)).toBe(false)
        },
      ),
    )
    for (const host of [
      '0.0.0.0',
      '::',
      '::ffff:10.0.0.1',
      'fe80::1',
      'hub.local',
      '127.0.0.1.nip.io',
      '',
    ]) {
      expect({ host, loopback: isLoopbackHost(host) }).toEqual({ host, loopback: false })
    }
  })
})

describe('allows', () => {
  it('lets an admin do anything', () => {
    expect(allows(principal({}, true), 'services.call', 'anything.at.all')).toBe(true)
  })

  it('matches names against the patterns of one kind with AMQP semantics', () => {
    const p = principal({ services: { call: ['lights.*'] }, state: { read: ['devices.#'] } })
    expect(allows(p, 'services.call', 'lights.set')).toBe(true)
    expect(allows(p, 'services.call', 'lights.set.now')).toBe(false)
    expect(allows(p, 'services.call', 'doors.open')).toBe(false)
    expect(allows(p, 'state.read', 'devices.kitchen.lamp')).toBe(true)
    expect(allows(p, 'state.write', 'devices.kitchen.lamp')).toBe(false)
  })

  it('allows a subscription only when a scope pattern contains it', () => {
    const p = principal({ events: { subscribe: ['lights.#'] } })
    expect(allows(p, 'events.subscribe', 'lights.*.changed')).toBe(true)
    expect(allows(p, 'events.subscribe', '#')).toBe(false)
    expect(allows(p, 'events.subscribe', '*.changed')).toBe(false)
  })
})
