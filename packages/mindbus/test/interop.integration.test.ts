import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { CloudEvent } from '@core/contracts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AMQP_URL,
  dropTopology,
  IN_CI,
  MemoryDirectory,
  makeNode,
  requireBroker,
  skipBroker,
  type TestNode,
  uniqueTopology,
} from './helpers.js'

const run = promisify(execFile)
const PYTHON = '/usr/bin/python3'
const SCRIPT = fileURLToPath(new URL('./fixtures/pika_client.py', import.meta.url))
const pikaInstalled =
  existsSync(PYTHON) &&
  (await run(PYTHON, ['-c', 'import pika']).then(
    () => true,
    () => false,
  ))
const skip = skipBroker || (!pikaInstalled && !IN_CI)
if (!pikaInstalled && !IN_CI)
  console.warn(
    'python3-pika is not installed: skipping the MindBus interop test (apt-get install python3-pika)',
  )

describe.skipIf(skip)(
  'MindBus with a client that is not ours (Python pika, the spec example)',
  () => {
    const topology = uniqueTopology()
    let node: TestNode
    const events: CloudEvent[] = []

    beforeAll(async () => {
      requireBroker()
      if (!pikaInstalled)
        throw new Error('python3-pika is required under CI=true (apt-get install python3-pika)')
      node = makeNode('srv', new MemoryDirectory(), topology, { importEvents: ['python-agent.#'] })
      node.services.register('calc.add', ({ x, y }: { x: number; y: number }) => x + y, {
        params: {
          type: 'object',
          properties: { x: { type: 'number' }, y: { type: 'number' } },
          required: ['x', 'y'],
        },
      })
      node.bus.subscribe('python-agent.#', (e) => void events.push(e))
      await node.mindbus.start(node.services)
    })

    afterAll(async () => {
      await node?.mindbus.close()
      await dropTopology(topology, ['srv'], ['calc'])
    })

    it('serves a spec command from pika with { ok, result } and imports its event under the routing key', async () => {
      const { stdout } = await run(
        PYTHON,
        [
          SCRIPT,
          AMQP_URL,
          topology.exchange,
          'calc',
          'srv',
          'add',
          '{"x": 2, "y": 40}',
          'evt.python-agent.ready',
        ],
        { timeout: 30_000 },
      )
      const { envelope, correlation_id } = JSON.parse(stdout) as {
        envelope: CloudEvent
        correlation_id: string
      }
      expect(envelope).toMatchObject({
        specversion: '1.0',
        type: 'core.mindbus.result',
        source: 'uid-srv',
        data: { ok: true, result: 42 },
      })
      expect(typeof correlation_id).toBe('string')
      await expect.poll(() => events.length).toBe(1)
      expect(events[0]).toMatchObject({
        type: 'python-agent.ready',
        source: 'python-agent',
        data: { status: 'ready' },
      })
    })
  },
)
