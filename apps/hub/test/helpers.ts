import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root and the hub app folder. */
export const ROOT: string = fileURLToPath(new URL('../../../', import.meta.url))
export const APP: string = fileURLToPath(new URL('../', import.meta.url))
export const EXAMPLE_PLUGINS = ['hello', 'devices', 'automation', 'zigbee2mqtt'] as const

/**
 * Copies the example plugins' package.json files into `<dir>/plugins/<name>/`, each with an
 * `index.ts` that re-exports the plugin's TypeScript source, so the hub runs them without a
 * build (under vitest, or `node --import tsx`).
 */
export async function stagePlugins(dir: string): Promise<string> {
  const plugins = join(dir, 'plugins')
  for (const name of EXAMPLE_PLUGINS) {
    const source = join(APP, 'plugins', name)
    const pkg = JSON.parse(await readFile(join(source, 'package.json'), 'utf8')) as {
      corePlugin: { entry: string }
    }
    pkg.corePlugin.entry = './index.ts'
    await mkdir(join(plugins, name), { recursive: true })
    await writeFile(join(plugins, name, 'package.json'), JSON.stringify(pkg, null, 2))
    await writeFile(
      join(plugins, name, 'index.ts'),
      `export { default } from ${JSON.stringify(join(source, 'src', 'index.ts'))}\n`,
    )
  }
  return plugins
}

/**
 * Adds a plugin `probe` (plain ESM JS) that drives the other plugins from inside the hub:
 * with config `{ step: 'seed' }` it adds two devices and a rule; with `{ step: 'check' }` it
 * opens the door (which the rule turns into "hall light on") and prints what it finds as one
 * `PROBE {json}` line on stdout.
 */
export async function stageProbe(dir: string): Promise<void> {
  const folder = join(dir, 'plugins', 'probe')
  await mkdir(folder, { recursive: true })
  await writeFile(
    join(folder, 'package.json'),
    JSON.stringify({
      name: 'probe',
      version: '1.0.0',
      type: 'module',
      corePlugin: {
        name: 'probe',
        entry: './index.js',
        coreApi: '^1.0.0',
        requires: { devices: '*', automation: '*' },
        permissions: {
          services: { call: ['devices.*', 'automation.*'] },
          events: { subscribe: ['automation.#'] },
        },
        config: { type: 'object', properties: { step: { enum: ['seed', 'check', 'none'] } } },
      },
    }),
  )
  await writeFile(
    join(folder, 'index.js'),
    `export default {
  setup(ctx) { this.ctx = ctx },
  async start() {
    const { ctx } = this
    const call = (name, params) => ctx.services.call(name, params)
    if (ctx.config.step === 'seed') {
      await call('devices.add', { id: 'door', name: 'Front door', type: 'sensor', state: { contact: true } })
      await call('devices.add', { id: 'hall-light', name: 'Hall light', type: 'light', state: { on: false } })
      await call('devices.set-state', { id: 'hall-light', state: { brightness: 120 } })
      await call('automation.add', {
        id: 'door-light',
        when: { event: 'devices.door.state-changed', conditions: [{ path: 'data.changed.contact', op: 'eq', value: false }] },
        action: { call: 'devices.set-state', params: { id: 'hall-light', state: { on: true } } },
      })
      console.log('PROBE ' + JSON.stringify({ seeded: true }))
    }
    if (ctx.config.step === 'check') {
      const before = await call('devices.get', { id: 'hall-light' })
      const fired = new Promise((resolve) => ctx.events.subscribe('automation.door-light.fired', resolve))
      await call('devices.set-state', { id: 'door', state: { contact: false } })
      await fired
      const after = await call('devices.get', { id: 'hall-light' })
      const rules = (await call('automation.list', {})).map((r) => r.id)
      console.log('PROBE ' + JSON.stringify({ before: before.state, after: after.state, rules }))
    }
  },
}
`,
  )
}

/** Writes `<dir>/hub.config.json` and returns its path. */
export async function writeHubConfig(
  dir: string,
  config: Record<string, unknown>,
): Promise<string> {
  const file = join(dir, 'hub.config.json')
  await writeFile(file, JSON.stringify(config, null, 2))
  return file
}

/** A TCP port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}
