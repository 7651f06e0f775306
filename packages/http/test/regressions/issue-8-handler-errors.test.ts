import { type Logger, silentLogger } from '@core/contracts'
import { describe, expect, it } from 'vitest'
import { startHub } from '../helpers.js'

describe('issue 8: a failing handler does not leak its message to HTTP clients', () => {
  it('sends a generic 500 detail with an instance id, and logs the message with that id', async () => {
    const logged: Array<{ obj: Record<string, unknown>; msg: string | undefined }> = []
    const logger: Logger = {
      ...silentLogger,
      error: ((obj: Record<string, unknown>, msg?: string) => {
        logged.push({ obj, msg })
      }) as Logger['error'],
      child: () => logger,
    }
    const hub = await startHub({ logger })
    hub.kernel.services.register(
      'vault.open',
      async () => {
        throw new Error('password for db at 10.0.0.7 is hunter2')
      },
      { params: {} },
    )
    const res = await hub.call('/api/v1/services/vault.open', { method: 'POST', body: {} })
    expect(res.status).toBe(500)
    const text = await res.text()
    expect(text).not.toContain('hunter2')
    expect(text).not.toContain('10.0.0.7')
    const problem = JSON.parse(text) as { code: string; instance: string; detail: string }
    expect(problem.code).toBe('E_HANDLER')
    expect(problem.instance).toMatch(/^urn:uuid:[0-9a-f-]{36}$/)
    expect(problem.detail).toContain(problem.instance)
    const line = logged.find((l) => l.obj.instance === problem.instance)
    expect(line).toBeDefined()
    expect(JSON.stringify(line?.obj.err, Object.getOwnPropertyNames(line?.obj.err))).toContain(
      'hunter2',
    )
  })
})
