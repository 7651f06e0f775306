/**
 * A real hub for the CLI tests (createKernel with the lights plugin + createHttpServer on
 * 127.0.0.1, port 0), and the `core` command run in this process against it: `runCli` with
 * CORE_URL and CORE_TOKEN pointing at the hub, stdout and stderr captured.
 */
import { createServer } from 'node:net'
import { CoreError, silentLogger } from '@core/contracts'
import { createHttpServer, type HttpServer } from '@core/http'
import { createKernel, type Kernel } from '@core/kernel'
import { type CreateCliOptions, runCli } from '../../src/index.js'
import { lightsPlugin } from '../fixtures/lights-plugin.js'

/** 256 random bits: the hub refuses weaker admin tokens. */
export const ADMIN_TOKEN = '7b2e9d41c6a08f35e1d7b94c2a6f03e8d5b1c79a4e2f06d83b5a1c7e9f04d26b'

export interface TestHub {
  kernel: Kernel
  http: HttpServer
  url: string
  close(): Promise<void>
}

/** Boots the kernel with the lights plugin and serves it over HTTP on a free port. */
export async function startTestHub(): Promise<TestHub> {
  const kernel = createKernel({ logger: silentLogger, plugins: [lightsPlugin] })
  await kernel.start()
  const http = createHttpServer(kernel, { adminToken: ADMIN_TOKEN, logger: silentLogger })
  const { url } = await http.listen({ host: '127.0.0.1', port: 0 })
  return {
    kernel,
    http,
    url,
    async close() {
      await http.close()
      await kernel.stop()
    },
  }
}

export type Env = Record<string, string | undefined>

export interface Running {
  stdout(): string
  stderr(): string
  /** Resolves with the exit code runCli returned. */
  exited: Promise<number>
  /** What Ctrl+C does to the real binary: aborts the command's signal with E_CANCELLED. */
  interrupt(): void
}

/**
 * Starts `core …` in this process with CORE_URL and CORE_TOKEN set to `url` and the admin
 * token; `env` overrides them (undefined removes a variable).
 */
export function startCore(
  url: string,
  args: string[],
  env: Env = {},
  options: CreateCliOptions = {},
): Running {
  const merged: Env = { CORE_URL: url, CORE_TOKEN: ADMIN_TOKEN, ...env }
  const cliEnv: Record<string, string> = {}
  for (const [name, value] of Object.entries(merged)) if (value !== undefined) cliEnv[name] = value
  let out = ''
  let err = ''
  const controller = new AbortController()
  const exited = runCli(args, {
    env: cliEnv,
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    signal: controller.signal,
    ...options,
  })
  return {
    stdout: () => out,
    stderr: () => err,
    exited,
    interrupt: () => controller.abort(new CoreError('E_CANCELLED', 'Interrupted')),
  }
}

/** Runs `core …` in this process to the end. */
export async function runCore(url: string, args: string[], env: Env = {}) {
  const running = startCore(url, args, env)
  const code = await running.exited
  return { code, stdout: running.stdout(), stderr: running.stderr() }
}

/** A port nothing listens on. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}
