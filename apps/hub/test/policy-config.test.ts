import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoreError, type Logger, silentLogger } from '@core/contracts'
import { createKernel } from '@core/kernel'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadHubConfig } from '../src/config.js'
import { createMindBusAuthorizer, describePolicy, warnPolicyGaps } from '../src/policy-config.js'
import { writeHubConfig } from './helpers.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hub-policy-config-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const RULES = [
  { effect: 'allow', subject: 'node:*', action: '*', resource: '#' },
  { effect: 'deny', subject: 'node:*', action: 'services.call', resource: 'locks.#' },
  { effect: 'deny', subject: 'user:intruder', action: '*', resource: '#' },
]

const load = async (extra: Record<string, unknown>, env: Record<string, string> = {}) => {
  const file = await writeHubConfig(dir, { dataDir: './data', ...extra })
  return loadHubConfig({ argv: ['--config', file], env, cwd: dir })
}

/** A logger that keeps the messages of its warnings (everything else is dropped). */
function warnings(): { lines: string[]; logger: Logger } {
  const lines: string[] = []
  const logger = {
    ...silentLogger,
    warn: (_obj: unknown, msg: string) => lines.push(msg),
    info: () => {},
  } as unknown as Logger
  return { lines, logger }
}

describe('hub config: policy', () => {
  it('reads a YAML policy file relative to the config file', async () => {
    await writeFile(
      join(dir, 'policy.yaml'),
      'version: 1\nrules:\n  - { effect: allow, subject: "token:*", action: "*", resource: "#" }\n',
    )
    const config = await load({ policy: './policy.yaml' })
    expect(config.policy?.source).toBe(join(dir, 'policy.yaml'))
    expect(config.policy?.document.rules).toHaveLength(1)
  })

  it('takes the policy inline, and CORE_POLICY over the file', async () => {
    const inline = await load({ policy: { version: 1, rules: RULES } })
    expect(inline.policy?.source).toBe(`${join(dir, 'hub.config.json')}#/policy`)
    await writeFile(join(dir, 'other.json'), JSON.stringify({ version: 1, rules: [] }))
    const env = await load({ policy: { version: 1, rules: RULES } }, { CORE_POLICY: 'other.json' })
    expect(env.policy?.source).toBe(join(dir, 'other.json'))
    expect(env.policy?.document.rules).toEqual([])
    expect((await load({})).policy).toBeUndefined()
    expect(describePolicy(inline.policy)).toBe(
      `policy ${join(dir, 'hub.config.json')}#/policy (${RULES.length} rule${RULES.length === 1 ? '' : 's'}, default deny)`,
    )
    expect(describePolicy(env.policy)).toBe(
      `policy ${join(dir, 'other.json')} (0 rules, default deny)`,
    )
    expect(describePolicy(undefined)).toBe(
      'no operator policy (manifest grants and token scopes decide)',
    )
  })

  it('refuses a bad policy file with E_VALIDATION naming the file and the JSON pointer', async () => {
    await writeFile(
      join(dir, 'policy.json'),
      JSON.stringify({
        version: 1,
        rules: [{ effect: 'maybe', subject: 'x', action: '*', resource: '#' }],
      }),
    )
    const error = await load({ policy: 'policy.json' }).catch((e: unknown) => e)
    expect(CoreError.is(error, 'E_VALIDATION')).toBe(true)
    expect((error as Error).message).toContain(join(dir, 'policy.json'))
    expect((error as Error).message).toContain('/rules/0/effect')
    expect((error as CoreError).details?.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: '/rules/0/subject' })]),
    )
  })

  it('refuses a missing file with E_NOT_FOUND and an unparsable one with E_VALIDATION', async () => {
    await expect(load({ policy: 'nope.yaml' })).rejects.toMatchObject({ code: 'E_NOT_FOUND' })
    await writeFile(join(dir, 'broken.json'), '{ version: 1')
    await expect(load({ policy: 'broken.json' })).rejects.toMatchObject({ code: 'E_VALIDATION' })
  })

  it('warns about subject kinds the policy leaves with no rule (default deny)', () => {
    const { lines, logger } = warnings()
    warnPolicyGaps({ document: { version: 1, rules: RULES as never }, source: 'p' }, logger)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('no rule for "token:" subjects')
  })

  it('in cluster mode, warns when no rule lets another hub send control signals', () => {
    const { lines, logger } = warnings()
    const policy = (rules: unknown[]) => ({
      document: { version: 1 as const, rules: rules as never },
      source: 'p',
    })
    const calls = [
      { effect: 'allow', subject: 'token:*', action: '*', resource: '#' },
      { effect: 'allow', subject: 'node:*', action: 'services.call', resource: '#' },
      { effect: 'allow', subject: 'user:*', action: 'events.publish', resource: '#' },
    ]
    warnPolicyGaps(policy(calls), logger, { cluster: true })
    expect(lines).toEqual([expect.stringContaining('allows no MindBus control signal')])
    lines.length = 0
    warnPolicyGaps(policy(calls), logger) // not in cluster mode
    warnPolicyGaps(
      policy([
        ...calls,
        { effect: 'allow', subject: 'node:ops', action: 'control.*', resource: '#' },
      ]),
      logger,
      { cluster: true },
    )
    warnPolicyGaps(policy([calls[0], ...RULES]), logger, { cluster: true }) // node:* may do "*"
    expect(lines).toEqual([])
  })
})

describe('the MindBus authorize hook', () => {
  it('weighs a remote caller as its node and its broker user: deny beats allow, core.node gossip passes', () => {
    const kernel = createKernel({
      logger: silentLogger,
      policy: { version: 1, rules: RULES as never },
    })
    const authorize = createMindBusAuthorizer(kernel)
    expect(() =>
      authorize(
        { node: 'hub-b', user: 'guest' },
        { action: 'services.call', resource: 'lights.on' },
      ),
    ).not.toThrow()
    expect(() =>
      authorize({ node: 'hub-b' }, { action: 'services.call', resource: 'locks.front.open' }),
    ).toThrow(expect.objectContaining({ code: 'E_FORBIDDEN' }))
    expect(() =>
      authorize(
        { node: 'hub-b', user: 'intruder' },
        { action: 'events.publish', resource: 'lights.on' },
      ),
    ).toThrow(expect.objectContaining({ code: 'E_FORBIDDEN' }))
    expect(() =>
      authorize(
        { node: 'hub-b', user: 'intruder' },
        { action: 'events.publish', resource: 'core.node.passport' },
      ),
    ).not.toThrow()
    expect(kernel.security.counts()).toEqual({ 'node services.call': 1, 'user events.publish': 1 })
  })

  it('lets everything through without a policy', () => {
    const authorize = createMindBusAuthorizer(createKernel({ logger: silentLogger }))
    expect(() =>
      authorize({ node: 'x' }, { action: 'services.call', resource: 'locks.open' }),
    ).not.toThrow()
  })
})
