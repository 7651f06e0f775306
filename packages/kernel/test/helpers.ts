import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type CloudEvent, type Logger, silentLogger } from '@core/contracts'
import { afterEach } from 'vitest'
import { type CreateKernelOptions, createKernel, type Kernel } from '../src/index.js'

/** Absolute path of a fixture under test/fixtures. */
export function fixture(path: string): string {
  return fileURLToPath(new URL(`./fixtures/${path}`, import.meta.url))
}

const made: string[] = []
const kernels: Kernel[] = []
afterEach(async () => {
  for (const k of kernels.splice(0)) await k.stop().catch(() => undefined)
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true })
})

/** A fresh temporary folder, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'core-kernel-'))
  made.push(dir)
  return dir
}

export interface PluginFiles {
  /** Merged into the default manifest `{ name, entry: './index.js', coreApi: '^1.0.0' }`. */
  manifest?: Record<string, unknown>
  /** index.js source. @defaultValue a plugin with an empty setup */
  code?: string
  version?: string
  /** Extra files: relative path → content. */
  files?: Record<string, string>
}

/** Writes a plugin package `<root>/<name>` (plain ESM) and returns its folder. */
export async function writePlugin(
  root: string,
  name: string,
  files: PluginFiles = {},
): Promise<string> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true })
  const pkg = {
    name: `@test/${name}`,
    version: files.version ?? '1.0.0',
    type: 'module',
    corePlugin: { name, entry: './index.js', coreApi: '^1.0.0', ...files.manifest },
  }
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`)
  await writeFile(join(dir, 'index.js'), files.code ?? 'export default { setup() {} }\n')
  for (const [path, content] of Object.entries(files.files ?? {})) {
    await mkdir(join(dir, path, '..'), { recursive: true })
    await writeFile(join(dir, path), content)
  }
  return dir
}

/** A kernel with a silent logger, stopped after the test. */
export function testKernel(options: CreateKernelOptions = {}): Kernel {
  const kernel = createKernel({ logger: silentLogger, ...options })
  kernels.push(kernel)
  return kernel
}

/** Collects the `core.plugin.#` events of a kernel's bus as `name:state`. */
export function recordTransitions(kernel: Kernel): string[] {
  const seen: string[] = []
  kernel.bus.subscribe('core.plugin.#', (event: CloudEvent) => {
    const data = event.data as { name: string; state: string }
    seen.push(`${data.name}:${data.state}`)
  })
  return seen
}

/** A logger that keeps `[level, bindings, args]` of every record. */
export function capturingLogger(
  records: unknown[][],
  bindings: Record<string, unknown> = {},
): Logger {
  const at =
    (level: string) =>
    (...args: unknown[]): void => {
      records.push([level, bindings, args])
    }
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => capturingLogger(records, { ...bindings, ...more }),
  } as Logger
}
