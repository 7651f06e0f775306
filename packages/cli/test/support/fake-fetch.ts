/** The CLI run in this process against a fake `fetch`: what it printed, exited with and asked for. */
import { type CreateCliOptions, runCli } from '../../src/index.js'

export interface Seen {
  method: string
  url: URL
  headers: Record<string, string>
  body: unknown
}

export type Handler = (request: Seen) => Response | Promise<Response>

export const json = (body: unknown, status = 200, type = 'application/json'): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': type } })

export const problem = (
  status: number,
  code: string,
  detail: string,
  extra: object = {},
): Response =>
  json(
    { type: `https://core-runtime.dev/errors/${code}`, title: 't', status, detail, code, ...extra },
    status,
    'application/problem+json',
  )

/** Runs the CLI in this process against a fake fetch; returns the exit code, output and requests. */
export async function run(
  argv: string[],
  handler: Handler = () => json({}),
  options: CreateCliOptions = {},
) {
  const seen: Seen[] = []
  let stdout = ''
  let stderr = ''
  const fetch = (async (input: URL | string, init: RequestInit = {}) => {
    const request: Seen = {
      method: init.method ?? 'GET',
      url: new URL(String(input)),
      headers: { ...(init.headers as Record<string, string>) },
      body: init.body === undefined ? undefined : JSON.parse(String(init.body)),
    }
    seen.push(request)
    if (init.signal?.aborted) throw init.signal.reason
    return handler(request)
  }) as typeof globalThis.fetch
  const code = await runCli(argv, {
    env: {},
    fetch,
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    signal: new AbortController().signal,
    ...options,
  })
  return { code, stdout, stderr, seen, last: seen.at(-1) as Seen }
}
