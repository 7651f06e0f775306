/**
 * Kernel benchmarks (issue 3):
 * - boot of 100 generated plugins with a dependency chain (discover, validate, resolve, import,
 *   setup, start), each run on a fresh folder so that every import is a real one; target < 500 ms;
 * - `reload` of one plugin: p50 / p99;
 * - events delivered to another plugin while one plugin reloads 100 times: none lost.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '@core/contracts'
import { createKernel } from '@core/kernel'
import { emit, percentile } from './measure.js'

const PLUGINS = 100
const BOOT_RUNS = 7
const RELOADS = 300
const BOOT_TARGET_MS = 500

const pluginCode = `export default {
  setup(ctx) {
    ctx.services.register(ctx.name + '.ping', () => 'pong', { params: { type: 'object' } })
    ctx.events.subscribe(ctx.name + '.#', () => {})
  },
  async start() {},
}
`

async function writePlugins(root: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const name = `p${String(i).padStart(3, '0')}`
    const dir = join(root, name)
    await mkdir(dir, { recursive: true })
    const corePlugin: Record<string, unknown> = {
      name,
      entry: './index.js',
      coreApi: '^1.0.0',
      config: { type: 'object', properties: { level: { type: 'integer', default: i } } },
      permissions: { events: { subscribe: ['p000.#'] } },
    }
    if (i > 0) corePlugin.requires = { [`p${String(i - 1).padStart(3, '0')}`]: '^1.0.0' }
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({ name: `@bench/${name}`, version: '1.0.0', type: 'module', corePlugin }),
    )
    await writeFile(join(dir, 'index.js'), pluginCode)
  }
}

function median(values: number[]): number {
  return percentile(values, 50)
}

export default async function kernelBench(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'core-kernel-bench-'))
  try {
    // ── boot ──────────────────────────────────────────────────────────────────────────────
    const boots: number[] = []
    for (let run = 0; run < BOOT_RUNS; run++) {
      const root = join(base, `boot-${run}`)
      await writePlugins(root, PLUGINS)
      const kernel = createKernel({ pluginDirs: [root], logger: silentLogger })
      const t0 = performance.now()
      const report = await kernel.start()
      const ms = performance.now() - t0
      if (report.started.length !== PLUGINS)
        throw new Error(`only ${report.started.length} plugins started`)
      boots.push(ms)
      await kernel.stop()
    }
    const bootMedian = median(boots)
    emit({
      name: `kernel boot of ${PLUGINS} plugins (chain; discover+validate+resolve+import+setup+start)`,
      ops_per_s: Math.round(1000 / bootMedian),
      samples: BOOT_RUNS,
      median_ms: round(bootMedian),
      first_ms: round(boots[0] as number),
      max_ms: round(Math.max(...boots)),
      target_ms: BOOT_TARGET_MS,
      met: bootMedian < BOOT_TARGET_MS,
    })

    // ── reload ────────────────────────────────────────────────────────────────────────────
    const root = join(base, 'reload')
    await writePlugins(root, 1)
    const kernel = createKernel({ pluginDirs: [root], logger: silentLogger })
    await kernel.start()
    for (let i = 0; i < 20; i++) await kernel.plugins.reload('p000')
    const reloads: number[] = []
    for (let i = 0; i < RELOADS; i++) {
      const t0 = performance.now()
      await kernel.plugins.reload('p000')
      reloads.push(performance.now() - t0)
    }
    emit({
      name: 'kernel reload of one plugin (stop, unload, re-import, setup, start)',
      ops_per_s: Math.round(1000 / median(reloads)),
      samples: RELOADS,
      p50_ms: round(percentile(reloads, 50)),
      p99_ms: round(percentile(reloads, 99)),
    })
    await kernel.stop()

    // ── events during reloads ─────────────────────────────────────────────────────────────
    const flowRoot = join(base, 'flow')
    await writePlugins(flowRoot, 2)
    let received = 0
    const flow = createKernel({
      pluginDirs: [flowRoot],
      logger: silentLogger,
      plugins: [
        {
          manifest: {
            name: 'listener',
            coreApi: '^1.0.0',
            permissions: { events: { subscribe: ['p000.#'] } },
          },
          plugin: {
            setup(ctx) {
              ctx.events.subscribe('p000.tick', () => {
                received++
              })
            },
          },
        },
      ],
    })
    await flow.start()
    let sent = 0
    let running = true
    const publisher = (async () => {
      while (running) {
        await flow.bus.publish('p000.tick', { n: sent })
        sent++
        // Let I/O run (the reload reads files): a microtask-only loop would starve it.
        if (sent % 20 === 0) await new Promise((r) => setImmediate(r))
      }
    })()
    const t0 = performance.now()
    for (let i = 0; i < 100; i++) await flow.plugins.reload('p001')
    const ms = performance.now() - t0
    running = false
    await publisher
    emit({
      name: 'kernel events delivered to another plugin during 100 reloads',
      ops_per_s: Math.round((sent * 1000) / ms),
      samples: 100,
      sent,
      received,
      lost: sent - received,
      target_lost: 0,
      met: sent === received,
    })
    await flow.stop()
  } finally {
    await rm(base, { recursive: true, force: true })
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}
