import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoreError } from '@core/contracts'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadHubConfig } from '../src/config.js'
import { failure } from './config-helpers.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hub-config-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('loadHubConfig: HTTP and MQTT settings', () => {
  const ADMIN = 'c4e81a7f29b03d6e5a1f8c02b7d94e36a5f1c8e07b2d49a3f6e1c50b8d7a2f94'

  it('reads http and mqtt from the file, and CORE_HTTP_HOST, CORE_HTTP_PORT, CORE_AUTH, CORE_MQTT_URL override them', async () => {
    await writeFile(
      join(dir, 'hub.config.yaml'),
      [
        'http:',
        '  host: 0.0.0.0',
        '  port: 9000',
        '  publicRoutes: { metrics: false }',
        'mqtt:',
        '  url: mqtts://broker.lan:8883',
        '  prefix: home/hub',
        '  username: hub',
        '  password: s3cret',
        '  events: ["zigbee2mqtt.#", "automation.*.fired"]',
        '  state: ["zigbee2mqtt.#"]',
        '  calls: false',
        '  startWaitMs: 500',
      ].join('\n'),
    )
    const fromFile = await loadHubConfig({ env: {}, cwd: dir, appDir: dir })
    expect(fromFile.http).toEqual({
      host: '0.0.0.0',
      port: 9000,
      auth: true,
      publicRoutes: { health: true, metrics: false, docs: false },
      loopbackMeta: true,
      authFailures: { max: 20, windowMs: 60_000 },
    })
    expect(fromFile.mqtt).toEqual({
      enabled: true,
      url: 'mqtts://broker.lan:8883',
      prefix: 'home/hub',
      username: 'hub',
      password: 's3cret',
      events: ['zigbee2mqtt.#', 'automation.*.fired'],
      state: ['zigbee2mqtt.#'],
      calls: false,
      trustBroker: false,
      maxInFlight: undefined,
      maxPacketBytes: undefined,
      startWaitMs: 500,
    })
    expect(fromFile.origin).toMatchObject({ httpHost: 'file', httpPort: 'file', mqttUrl: 'file' })

    const fromEnv = await loadHubConfig({
      env: {
        CORE_HTTP_HOST: '::1',
        CORE_HTTP_PORT: '0',
        CORE_AUTH: 'OFF',
        CORE_MQTT_URL: 'mqtt://127.0.0.1:1884',
        CORE_ADMIN_TOKEN: ADMIN,
      },
      cwd: dir,
      appDir: dir,
    })
    expect(fromEnv.http).toMatchObject({ host: '::1', port: 0, auth: false })
    expect(fromEnv.mqtt.url).toBe('mqtt://127.0.0.1:1884')
    expect(fromEnv.mqtt.prefix).toBe('home/hub')
    expect(fromEnv.adminToken).toBe(ADMIN)
    expect(fromEnv.origin).toMatchObject({
      httpHost: 'env',
      httpPort: 'env',
      auth: 'env',
      mqttUrl: 'env',
    })
  })

  it('accepts auth off on a loopback host and refuses it elsewhere, naming where each setting came from', async () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.8.9.10']) {
      const config = await loadHubConfig({
        env: { CORE_AUTH: 'off', CORE_HTTP_HOST: host },
        cwd: dir,
        appDir: dir,
      })
      expect(config.http.auth).toBe(false)
    }
    const env = await failure(
      loadHubConfig({
        env: { CORE_AUTH: 'off', CORE_HTTP_HOST: '0.0.0.0' },
        cwd: dir,
        appDir: dir,
      }),
    )
    expect(CoreError.is(env, 'E_VALIDATION')).toBe(true)
    expect(env.message).toContain('HTTP auth is off (CORE_AUTH=off)')
    expect(env.message).toContain(
      'listen on 0.0.0.0 (CORE_HTTP_HOST), which is not a loopback address',
    )

    await writeFile(
      join(dir, 'hub.config.json'),
      JSON.stringify({ http: { host: '192.168.1.10', auth: false } }),
    )
    const file = await failure(loadHubConfig({ env: {}, cwd: dir, appDir: dir }))
    expect(file.message).toContain(`http.auth false in ${join(dir, 'hub.config.json')}`)
    expect(file.message).toContain('192.168.1.10 (http.host in')
    // The environment can repair it: auth back on.
    const repaired = await loadHubConfig({ env: { CORE_AUTH: 'on' }, cwd: dir, appDir: dir })
    expect(repaired.http).toMatchObject({ host: '192.168.1.10', auth: true })
  })

  it('refuses bad HTTP and MQTT variables with E_VALIDATION naming each, never echoing the admin token', async () => {
    const e = await failure(
      loadHubConfig({
        env: {
          CORE_HTTP_PORT: '65536',
          CORE_HTTP_HOST: 'my host',
          CORE_AUTH: 'maybe',
          CORE_MQTT_URL: 'http://broker',
          CORE_ADMIN_TOKEN: 'short-secret',
        },
        cwd: dir,
        appDir: dir,
      }),
    )
    expect(CoreError.is(e, 'E_VALIDATION')).toBe(true)
    expect(e.message).toContain('CORE_HTTP_PORT must be a TCP port, a whole number from 0 to 65535')
    expect(e.message).toContain('CORE_HTTP_HOST must be a host name')
    expect(e.message).toContain('CORE_AUTH must be equal to one of the allowed values (on, off)')
    expect(e.message).toContain('CORE_MQTT_URL must be a broker URL starting with mqtt://')
    expect(e.message).toContain('CORE_ADMIN_TOKEN must be at least 32 characters long')
    expect(JSON.stringify(e.details)).not.toContain('short-secret')
    expect(e.message).not.toContain('short-secret')
    for (const port of ['-1', '80.5', 'http', '08080'])
      expect(
        (await failure(loadHubConfig({ env: { CORE_HTTP_PORT: port }, cwd: dir, appDir: dir })))
          .message,
      ).toContain('CORE_HTTP_PORT must be a TCP port')
    const ok = await loadHubConfig({ env: { CORE_HTTP_PORT: '65535' }, cwd: dir, appDir: dir })
    expect(ok.http.port).toBe(65535)
  })

  it('refuses bad http and mqtt fields in the file, naming each', async () => {
    await writeFile(
      join(dir, 'hub.config.json'),
      JSON.stringify({
        http: { port: 70000, host: 'a b', auth: 'no', publicRoutes: { admin: true } },
        mqtt: { url: 'amqp://x', prefix: 'core/#', events: 'all', startWaitMs: -1, colour: 1 },
      }),
    )
    const e = await failure(loadHubConfig({ env: {}, cwd: dir, appDir: dir }))
    expect(CoreError.is(e, 'E_VALIDATION')).toBe(true)
    const errors = (e.details?.errors ?? []) as Array<{ path: string; message: string }>
    const paths = errors.map((x) => x.path)
    for (const p of [
      '/http/port',
      '/http/host',
      '/http/auth',
      '/http/publicRoutes',
      '/mqtt/url',
      '/mqtt/prefix',
      '/mqtt/events',
      '/mqtt/startWaitMs',
      '/mqtt',
    ])
      expect(paths).toContain(p)
    const all = errors.map((x) => `${x.path} ${x.message}`).join('\n')
    expect(all).toContain('/mqtt/url must be a broker URL')
    expect(all).toContain('/mqtt/prefix must be an MQTT topic without "+" or "#"')
    expect(all).toContain('/mqtt has an unknown setting "colour"')
    expect(all).toContain('/http/publicRoutes has an unknown setting "admin"')
  })

  it('refuses an mqtt event pattern that is not a bus pattern', async () => {
    await writeFile(
      join(dir, 'hub.config.json'),
      JSON.stringify({ mqtt: { events: ['zigbee2mqtt.#', 'bad pattern!'] } }),
    )
    const e = await failure(loadHubConfig({ env: {}, cwd: dir, appDir: dir }))
    expect(CoreError.is(e, 'E_VALIDATION')).toBe(true)
    expect(e.message).toContain('/mqtt/events/1')
  })

  it('ships a hub.config.json that runs http, mqtt and zigbee2mqtt with the defaults', async () => {
    const shipped = await loadHubConfig({ env: {}, cwd: dir })
    expect(shipped.http).toMatchObject({ host: '127.0.0.1', port: 8080, auth: true })
    expect(shipped.mqtt).toMatchObject({
      enabled: true,
      url: 'mqtt://127.0.0.1:1883',
      prefix: 'core',
    })
    expect(shipped.pluginConfig).toMatchObject({ zigbee2mqtt: { baseTopic: 'zigbee2mqtt' } })
  })
})

describe('loadHubConfig: the mindbus section (cluster mode)', () => {
  it('is off without a URL, and CORE_AMQP_URL / CORE_NODE_ROLES override the file', async () => {
    expect((await loadHubConfig({ env: {}, cwd: dir, appDir: dir })).mindbus).toBeUndefined()
    await writeFile(
      join(dir, 'hub.config.json'),
      JSON.stringify({
        mindbus: {
          url: 'amqp://hub:secret@rabbit.local:5672/core',
          roles: ['kitchen'],
          events: { export: ['zigbee2mqtt.#'], import: ['automation.#'] },
          maxPriority: 10,
          consumerChannels: 8,
          dedupResultBytes: 1_048_576,
        },
      }),
    )
    const file = await loadHubConfig({ env: {}, cwd: dir, appDir: dir })
    expect(file.mindbus).toEqual({
      url: 'amqp://hub:secret@rabbit.local:5672/core',
      roles: ['kitchen'],
      exportEvents: ['zigbee2mqtt.#'],
      importEvents: ['automation.#'],
      maxPriority: 10,
      consumerChannels: 8,
      dispatchAny: [],
      maxExpirationMs: undefined,
      heartbeatS: undefined,
      dedupWindowMs: undefined,
      dedupResultBytes: 1_048_576,
    })
    const env = await loadHubConfig({
      env: { CORE_AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672', CORE_NODE_ROLES: 'gateway, hall' },
      cwd: dir,
      appDir: dir,
    })
    expect(env.mindbus).toMatchObject({
      url: 'amqp://guest:guest@127.0.0.1:5672',
      roles: ['gateway', 'hall'],
      exportEvents: ['zigbee2mqtt.#'],
    })
  })

  it('refuses a URL that is not amqp(s), a bad priority and a bad event pattern, naming each', async () => {
    const bad = await failure(
      loadHubConfig({ env: { CORE_AMQP_URL: 'http://127.0.0.1:5672' }, cwd: dir, appDir: dir }),
    )
    expect(CoreError.is(bad, 'E_VALIDATION')).toBe(true)
    expect(bad.message).toContain('CORE_AMQP_URL must start with amqp:// or amqps://')
    await writeFile(join(dir, 'hub.config.json'), JSON.stringify({ mindbus: { maxPriority: 300 } }))
    const e = await failure(loadHubConfig({ env: {}, cwd: dir, appDir: dir }))
    expect(e.message).toContain('/mindbus/maxPriority')
    await writeFile(
      join(dir, 'hub.config.json'),
      JSON.stringify({ mindbus: { events: { import: ['ok.#', 'not a pattern'] } } }),
    )
    const p = await failure(loadHubConfig({ env: {}, cwd: dir, appDir: dir }))
    expect(p.message).toContain('/mindbus/events/import/1')
  })
})
