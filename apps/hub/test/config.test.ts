import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoreError } from '@core/contracts'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { APP_DIR, loadHubConfig, parseHubArgs } from '../src/config.js'
import { failure } from './config-helpers.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hub-config-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('loadHubConfig', () => {
  it('uses the defaults when there is no config file: SQLite in ./data, plugins beside the app', async () => {
    const config = await loadHubConfig({ env: {}, cwd: dir, appDir: dir })
    expect(config).toMatchObject({
      configFile: undefined,
      dataDir: join(dir, 'data'),
      storage: { kind: 'sqlite', filename: join(dir, 'data', 'hub.db'), synchronous: 'NORMAL' },
      logLevel: 'info',
      pluginDirs: [join(dir, 'plugins')],
      plugins: [],
      required: [],
      pluginConfig: {},
      watch: false,
      http: {
        host: '127.0.0.1',
        port: 8080,
        auth: true,
        publicRoutes: { health: true, metrics: false, docs: false },
        loopbackMeta: true,
        authFailures: { max: 20, windowMs: 60_000 },
      },
      mqtt: {
        enabled: true,
        url: 'mqtt://127.0.0.1:1883',
        prefix: 'core',
        username: undefined,
        password: undefined,
        events: [],
        state: true,
        calls: false,
        trustBroker: false,
        maxInFlight: undefined,
        maxPacketBytes: undefined,
        startWaitMs: 2000,
      },
      adminToken: undefined,
      origin: {
        dataDir: 'default',
        databaseUrl: 'default',
        logLevel: 'default',
        httpHost: 'default',
        httpPort: 'default',
        auth: 'default',
        mqttUrl: 'default',
      },
    })
  })

  it('reads hub.config.json beside the app by default, the one shipped with the hub included', async () => {
    await writeFile(
      join(dir, 'hub.config.json'),
      JSON.stringify({ logLevel: 'warn', config: { hello: { greeting: 'Hi' } } }),
    )
    const config = await loadHubConfig({ env: {}, cwd: '/', appDir: dir })
    expect(config).toMatchObject({
      configFile: join(dir, 'hub.config.json'),
      logLevel: 'warn',
      pluginConfig: { hello: { greeting: 'Hi' } },
    })
    const shipped = await loadHubConfig({ env: {}, cwd: dir })
    expect(shipped.configFile).toBe(join(APP_DIR, 'hub.config.json'))
    expect(shipped.pluginDirs).toEqual([join(APP_DIR, 'plugins')])
    expect(shipped.storage).toEqual({
      kind: 'sqlite',
      filename: join(dir, 'data', 'hub.db'),
      synchronous: 'NORMAL',
    })
    expect(shipped.http.publicRoutes).toEqual({ health: true, metrics: false, docs: false })
  })

  it('reads YAML, resolving paths in the file against its folder', async () => {
    const file = join(dir, 'conf', 'hub.yaml')
    await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, 'conf')))
    await writeFile(
      file,
      [
        '# a YAML hub config',
        'dataDir: ../state',
        'pluginDirs: [./plugins, /opt/plugins]',
        'plugins: [./extra/lamp, some-npm-plugin]',
        'required: [devices]',
        'persistState: [devices]',
        'lifecycleTimeoutMs: 2000',
        'watch: true',
        'config:',
        '  hello: { greeting: Howdy }',
      ].join('\n'),
    )
    const config = await loadHubConfig({ argv: ['--config', file], env: {}, cwd: '/' })
    expect(config).toMatchObject({
      configFile: file,
      dataDir: join(dir, 'state'),
      storage: { kind: 'sqlite', filename: join(dir, 'state', 'hub.db') },
      pluginDirs: [join(dir, 'conf', 'plugins'), '/opt/plugins'],
      plugins: [join(dir, 'conf', 'extra', 'lamp'), 'some-npm-plugin'],
      required: ['devices'],
      persistState: ['devices'],
      lifecycleTimeoutMs: 2000,
      watch: true,
      pluginConfig: { hello: { greeting: 'Howdy' } },
      origin: { dataDir: 'file' },
    })
  })

  it('takes the file from CORE_CONFIG, relative to the working folder, --config winning over it', async () => {
    await writeFile(join(dir, 'a.json'), '{ "logLevel": "debug" }')
    await writeFile(join(dir, 'b.yml'), 'logLevel: error\n')
    expect((await loadHubConfig({ env: { CORE_CONFIG: 'a.json' }, cwd: dir })).logLevel).toBe(
      'debug',
    )
    expect(
      (await loadHubConfig({ argv: ['-c', 'b.yml'], env: { CORE_CONFIG: 'a.json' }, cwd: dir }))
        .logLevel,
    ).toBe('error')
  })

  it('lets CORE_DATA_DIR, CORE_DATABASE_URL and CORE_LOG_LEVEL override the file', async () => {
    await writeFile(
      join(dir, 'hub.config.json'),
      JSON.stringify({ dataDir: '/from/file', logLevel: 'warn' }),
    )
    const sqlite = await loadHubConfig({
      env: { CORE_DATA_DIR: 'mine', CORE_LOG_LEVEL: 'debug' },
      cwd: dir,
      appDir: dir,
    })
    expect(sqlite).toMatchObject({
      dataDir: join(dir, 'mine'),
      storage: { kind: 'sqlite', filename: join(dir, 'mine', 'hub.db') },
      logLevel: 'debug',
      origin: { dataDir: 'env', logLevel: 'env', databaseUrl: 'default' },
    })
    const pg = await loadHubConfig({
      env: { CORE_DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/hub', CORE_LOG_LEVEL: '' },
      cwd: dir,
      appDir: dir,
    })
    expect(pg.storage).toEqual({
      kind: 'postgres',
      url: 'postgres://u:p@127.0.0.1:5432/hub',
      schema: undefined,
    })
    expect(pg.logLevel).toBe('warn')
  })

  it('uses PostgreSQL when the file sets databaseUrl', async () => {
    await writeFile(
      join(dir, 'hub.config.json'),
      JSON.stringify({ databaseUrl: 'postgresql://db/hub', databaseSchema: 'hub1' }),
    )
    const config = await loadHubConfig({ env: {}, cwd: dir, appDir: dir })
    expect(config.storage).toEqual({ kind: 'postgres', url: 'postgresql://db/hub', schema: 'hub1' })
  })

  it('refuses a missing named file with E_NOT_FOUND naming it and where it came from', async () => {
    const e = await failure(loadHubConfig({ env: { CORE_CONFIG: 'nope.yaml' }, cwd: dir }))
    expect(CoreError.is(e, 'E_NOT_FOUND')).toBe(true)
    expect(e.message).toContain(join(dir, 'nope.yaml'))
    expect(e.message).toContain('CORE_CONFIG')
  })

  it('refuses a file that does not parse with E_VALIDATION naming the file', async () => {
    await writeFile(join(dir, 'bad.json'), '{ "logLevel": "info", }')
    const json = await failure(loadHubConfig({ argv: ['--config', 'bad.json'], env: {}, cwd: dir }))
    expect(CoreError.is(json, 'E_VALIDATION')).toBe(true)
    expect(json.message).toMatch(/Cannot parse hub config file .*bad\.json/)
    await writeFile(join(dir, 'bad.yaml'), 'logLevel: [unclosed\n')
    const yaml = await failure(loadHubConfig({ argv: ['--config', 'bad.yaml'], env: {}, cwd: dir }))
    expect(yaml.message).toMatch(/Cannot parse hub config file .*bad\.yaml/)
    await writeFile(join(dir, 'list.yaml'), '- a\n- b\n')
    const list = await failure(
      loadHubConfig({ argv: ['--config', 'list.yaml'], env: {}, cwd: dir }),
    )
    expect(list.message).toContain('must be an object')
  })

  it('refuses wrong fields with E_VALIDATION naming the file and every failing field', async () => {
    await writeFile(
      join(dir, 'hub.config.json'),
      JSON.stringify({
        logLevel: 'loud',
        dataDir: '',
        pluginDirs: 'plugins',
        required: ['Bad Name'],
        lifecycleTimeoutMs: 0,
        databaseUrl: 'mysql://x',
        colour: 'red',
      }),
    )
    const e = await failure(loadHubConfig({ env: {}, cwd: dir, appDir: dir }))
    expect(CoreError.is(e, 'E_VALIDATION')).toBe(true)
    expect(e.message).toContain(join(dir, 'hub.config.json'))
    const paths = ((e.details?.errors ?? []) as Array<{ path: string }>).map((x) => x.path)
    for (const p of [
      '/logLevel',
      '/dataDir',
      '/pluginDirs',
      '/required/0',
      '/lifecycleTimeoutMs',
      '/databaseUrl',
      '/',
    ]) {
      expect(paths).toContain(p)
    }
    expect(e.message).toContain('fatal, error, warn, info, debug, trace, silent')
    const all = ((e.details?.errors ?? []) as Array<{ message: string }>)
      .map((x) => x.message)
      .join('\n')
    expect(all).toContain('unknown setting "colour"')
    expect(all).toContain('must start with postgres://')
  })

  it('refuses bad environment overrides with E_VALIDATION naming the variable', async () => {
    const e = await failure(
      loadHubConfig({
        env: { CORE_LOG_LEVEL: 'chatty', CORE_DATABASE_URL: 'sqlite://x' },
        cwd: dir,
        appDir: dir,
      }),
    )
    expect(CoreError.is(e, 'E_VALIDATION')).toBe(true)
    expect(e.message).toContain(
      'CORE_LOG_LEVEL must be equal to one of the allowed values (fatal, error',
    )
    expect(e.message).toContain('CORE_DATABASE_URL must start with postgres://')
  })

  it('refuses an unknown command-line option with the usage', () => {
    expect(parseHubArgs(['--watch'])).toEqual({ config: undefined, watch: true, help: false })
    expect(parseHubArgs(['-h']).help).toBe(true)
    let error: unknown
    try {
      parseHubArgs(['--colour'])
    } catch (e) {
      error = e
    }
    expect(CoreError.is(error, 'E_VALIDATION')).toBe(true)
    expect((error as Error).message).toContain('--colour')
    expect((error as Error).message).toContain('Usage: core-hub')
    expect(() => parseHubArgs(['--config'])).toThrow(/argument missing|Usage/)
  })
})
