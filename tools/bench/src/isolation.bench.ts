/**
 * @core/kernel isolation levels (issue 13 §1): a validated service call into a `worker` plugin
 * and into a `process` plugin against the same plugin `inline`, measured in this run (target
 * for worker ≥ 0.2× inline; none for process), and the boot time of one plugin per level (a
 * kernel started and stopped with just that plugin).
 *
 * Run: `npx tsx tools/bench/src/run.ts isolation` (or `pnpm bench isolation`).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '@core/contracts'
import { createKernel } from '@core/kernel'
import { compare, emit, type Figure, percentile, ratio } from './measure.js'

const CODE = `
export default {
  setup(ctx) {
    ctx.services.register(ctx.name + '.add', ({ a, b }) => ({ sum: a + b }), {
      params: {
        type: 'object',
        properties: { a: { type: 'number' }, b: { type: 'number' } },
        required: ['a', 'b'],
        additionalProperties: false,
      },
      result: {
        type: 'object',
        properties: { sum: { type: 'number' } },
        required: ['sum'],
      },
    })
  },
}
`

async function writePlugin(root: string, name: string, isolation: string): Promise<string> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true })
  const corePlugin = { name, entry: './index.js', coreApi: '^1.0.0', isolation }
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: `@bench/${name}`, version: '1.0.0', type: 'module', corePlugin }),
  )
  await writeFile(join(dir, 'index.js'), CODE)
  return dir
}

async function bootMs(dir: string, rounds: number, dataDir: string): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < rounds; i++) {
    const kernel = createKernel({ logger: silentLogger, plugins: [dir], isolation: { dataDir } })
    const t0 = performance.now()
    const report = await kernel.start()
    out.push(performance.now() - t0)
    if (report.started.length !== 1) throw new Error(`boot failed: ${JSON.stringify(report)}`)
    await kernel.stop()
  }
  return out
}

export default async function isolationBench(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'core-bench-isolation-'))
  try {
    const inline = await writePlugin(root, 'inl', 'inline')
    const worker = await writePlugin(root, 'wrk', 'worker')
    const proc = await writePlugin(root, 'prc', 'process')
    const dataDir = join(root, 'data')
    const kernel = createKernel({
      logger: silentLogger,
      plugins: [inline, worker, proc],
      isolation: { dataDir },
    })
    await kernel.start()
    let n = 0
    const f = await compare(
      {
        'kernel validated call, inline plugin': () =>
          kernel.services.call('inl.add', { a: n++, b: 1 }),
        'kernel validated call, worker plugin': () =>
          kernel.services.call('wrk.add', { a: n++, b: 1 }),
        'kernel validated call, process plugin': () =>
          kernel.services.call('prc.add', { a: n++, b: 1 }),
      },
      { batch: 2_000, rounds: 7, warmup: 2 },
    )
    // The same with 64 calls in flight (what a busy hub does): ops/s counts calls.
    const burst = (name: string) => () =>
      Promise.all(Array.from({ length: 64 }, () => kernel.services.call(name, { a: n++, b: 1 })))
    const g = await compare(
      {
        'kernel validated calls 64 in flight, inline plugin': burst('inl.add'),
        'kernel validated calls 64 in flight, worker plugin': burst('wrk.add'),
        'kernel validated calls 64 in flight, process plugin': burst('prc.add'),
      },
      { batch: 50, rounds: 7, warmup: 2 },
    )
    for (const figure of Object.values(g)) figure.ops_per_s *= 64
    for (const name of ['wrk.add', 'prc.add']) {
      const check = (await kernel.services.call(name, { a: 2, b: 3 })) as { sum: number }
      if (check.sum !== 5) throw new Error(`${name} answered wrongly: the benchmark is broken`)
    }
    await kernel.stop()
    for (const figure of [...Object.values(f), ...Object.values(g)]) emit(figure)
    ratio(
      'worker call / inline call, one at a time',
      f['kernel validated call, worker plugin'] as Figure,
      f['kernel validated call, inline plugin'] as Figure,
      0.2,
    )
    ratio(
      'worker call / inline call, 64 in flight',
      g['kernel validated calls 64 in flight, worker plugin'] as Figure,
      g['kernel validated calls 64 in flight, inline plugin'] as Figure,
      0.2,
    )
    ratio(
      'process call / inline call, one at a time',
      f['kernel validated call, process plugin'] as Figure,
      f['kernel validated call, inline plugin'] as Figure,
    )
    ratio(
      'process call / inline call, 64 in flight',
      g['kernel validated calls 64 in flight, process plugin'] as Figure,
      g['kernel validated calls 64 in flight, inline plugin'] as Figure,
    )
    ratio(
      'process call / worker call, 64 in flight',
      g['kernel validated calls 64 in flight, process plugin'] as Figure,
      g['kernel validated calls 64 in flight, worker plugin'] as Figure,
    )

    const rounds = 7
    const dirs: Record<string, string> = { inline, worker, process: proc }
    const boots: Record<string, number[]> = { inline: [], worker: [], process: [] }
    const levels = Object.keys(dirs)
    for (let r = 0; r < rounds; r++) {
      // rotate the order of the levels so that drift hits them alike
      for (let i = 0; i < levels.length; i++) {
        const level = levels[(r + i) % levels.length] as string
        boots[level]?.push(...(await bootMs(dirs[level] as string, 1, dataDir)))
      }
    }
    for (const [level, ms] of Object.entries(boots)) {
      const median = percentile(ms, 50)
      emit({
        name: `kernel boot with one ${level} plugin`,
        ops_per_s: Math.round((1000 / median) * 100) / 100,
        samples: ms.length,
        median_ms: Math.round(median * 10) / 10,
        p90_ms: Math.round(percentile(ms, 90) * 10) / 10,
      })
    }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}
