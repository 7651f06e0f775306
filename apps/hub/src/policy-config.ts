import { readFile } from 'node:fs/promises'
import { extname, resolve } from 'node:path'
import {
  CoreError,
  type Logger,
  type PolicyDocument,
  PolicyDocumentSchema,
  validationError,
} from '@core/contracts'
import type { Kernel } from '@core/kernel'
import type { MindBusAuthorize } from '@core/mindbus'
import { Ajv2020 } from 'ajv/dist/2020.js'
import Type from 'typebox'
import { parse as parseYaml } from 'yaml'

/**
 * The `policy` key of the hub config: a path to a JSON or YAML policy file (relative to the
 * config file), or the policy inline. Checked against `PolicyDocumentSchema` at start.
 */
export const PolicyConfigSchema = Type.Union(
  [Type.String({ minLength: 1 }), Type.Object({}, { additionalProperties: true })],
  {
    description:
      'Operator policy narrowing what plugin manifests, token scopes and remote callers are granted: a JSON or YAML file (relative to this file) or the document inline (see docs/security.md). Env CORE_POLICY (a path). Default none',
  },
)

/** The operator policy the hub runs with. */
export interface HubPolicy {
  /** The validated document, handed to `createKernel({ policy })`. */
  readonly document: PolicyDocument
  /** Where it came from: the file's absolute path, or `<config file>#/policy` when inline. */
  readonly source: string
}

const validate = new Ajv2020({ allErrors: true, strict: false }).compile(PolicyDocumentSchema)

/**
 * Resolves the hub's operator policy: `CORE_POLICY` (a path, relative to `cwd`) over the config
 * file's `policy` (a path relative to the config file's folder, or the document inline).
 *
 * @param fromFile - The config file's `policy` value.
 * @param fromEnv - `CORE_POLICY`, when set.
 * @param where - `base`: the config file's folder; `cwd`: base of `CORE_POLICY`; `configFile`: for messages.
 * @returns The policy, or `undefined` when none is configured.
 * @throws {@link @core/contracts!CoreError} `E_NOT_FOUND` when the file cannot be read; `E_VALIDATION`
 *   when it does not parse or does not match `PolicyDocumentSchema`, naming the file and each
 *   failing JSON pointer (`details: { path, errors: [{ path, keyword, message }] }`).
 */
export async function resolvePolicy(
  fromFile: unknown,
  fromEnv: string | undefined,
  where: { base: string; cwd: string; configFile: string | undefined },
): Promise<HubPolicy | undefined> {
  if (fromEnv !== undefined) return readPolicyFile(resolve(where.cwd, fromEnv))
  if (fromFile === undefined) return undefined
  if (typeof fromFile === 'string') return readPolicyFile(resolve(where.base, fromFile))
  const source = `${where.configFile ?? 'the hub config'}#/policy`
  return { document: checked(fromFile, `inline policy (${source})`, source), source }
}

async function readPolicyFile(path: string): Promise<HubPolicy> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new CoreError(
      'E_NOT_FOUND',
      `Cannot read the policy file ${path}: ${(error as Error).message}; fix the hub config's "policy" (or CORE_POLICY)`,
      { cause: error, details: { path } },
    )
  }
  let data: unknown
  try {
    data = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text)
  } catch (error) {
    throw new CoreError(
      'E_VALIDATION',
      `Cannot parse the policy file ${path}: ${(error as Error).message.split('\n')[0]}`,
      { cause: error, details: { path } },
    )
  }
  return { document: checked(data, `policy file ${path}`, path), source: path }
}

function checked(data: unknown, subject: string, path: string): PolicyDocument {
  if (!validate(data)) {
    const error = validationError(subject, validate.errors, { path })
    throw new CoreError(
      'E_VALIDATION',
      `${error.message} (the format: docs/security.md, "Operator policy")`,
      { details: error.details as Record<string, unknown> },
    )
  }
  return data as PolicyDocument
}

/**
 * The policy part of the startup summary: `policy /etc/core/policy.yaml (5 rules, default
 * deny)`, or `no operator policy (manifest grants and token scopes decide)`.
 */
export function describePolicy(policy: HubPolicy | undefined): string {
  if (policy === undefined) return 'no operator policy (manifest grants and token scopes decide)'
  const n = policy.document.rules.length
  return `policy ${policy.source} (${n} rule${n === 1 ? '' : 's'}, default deny)`
}

/**
 * Warns at start about callers the policy leaves with nothing: the policy denies by default, so
 * a document without a rule for `token:` subjects refuses every HTTP and MQTT token call. In
 * cluster mode (`cluster`), also when no rule allows a MindBus control signal (`control.*`) to a
 * `node:` or `user:` subject: `core ctl` sent from another hub is then refused here.
 */
export function warnPolicyGaps(
  policy: HubPolicy | undefined,
  logger: Logger,
  options: { cluster?: boolean } = {},
): void {
  if (policy === undefined) return
  const { rules } = policy.document
  const subjects = rules.map((r) => r.subject)
  for (const kind of ['token', 'node', 'user'] as const) {
    if (subjects.some((s) => s === '*' || s.startsWith(`${kind}:`))) continue
    logger.warn(
      { policy: policy.source, kind },
      `the operator policy has no rule for "${kind}:" subjects: every ${KIND_WORDS[kind]} is refused (default deny); add e.g. { "effect": "allow", "subject": "${kind}:*", "action": "*", "resource": "#" } to keep what their grants allow`,
    )
  }
  const allowsControl = rules.some(
    (r) =>
      r.effect === 'allow' &&
      (r.action === '*' || r.action.startsWith('control.')) &&
      (r.subject === '*' || r.subject.startsWith('node:') || r.subject.startsWith('user:')),
  )
  if (options.cluster === true && !allowsControl) {
    logger.warn(
      { policy: policy.source, kind: 'control' },
      'the operator policy allows no MindBus control signal: stop, pause, resume, shutdown and config sent by another hub (core ctl) are refused here (default deny); add e.g. { "effect": "allow", "subject": "node:<uid of the operators\' hub>", "action": "control.*", "resource": "#" }',
    )
  }
  logger.info(
    { policy: policy.source, rules: policy.document.rules.length },
    'operator policy loaded',
  )
}

const KIND_WORDS = {
  token: 'HTTP or MQTT call made with a token',
  node: 'command, event or control signal from another hub',
  user: 'MQTT call on a trusted broker (trustBroker)',
} as const

/**
 * The MindBus `authorize` hook of the hub: a command (`services.call`), an imported event
 * (`events.publish`) or a control signal (`control.<scope>` of its target) is weighed as both
 * `node:<source uid>` and, when the broker set it, `user:<AMQP user_id>` (allowed when a rule
 * allows one and none refuses either). The node gossip events the cluster itself needs
 * (`core.node.passport`, `core.node.leave`) are not weighed.
 */
export function createMindBusAuthorizer(kernel: Kernel): MindBusAuthorize {
  const { security } = kernel
  return (caller, request) => {
    if (security.policy === undefined) return
    if (request.action === 'events.publish' && request.resource.startsWith('core.node.')) return
    security.authorize({
      subject:
        caller.user === undefined
          ? `node:${caller.node}`
          : [`node:${caller.node}`, `user:${caller.user}`],
      action: request.action,
      resource: request.resource,
      via: 'mindbus',
    })
  }
}
