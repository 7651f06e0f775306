import { hostname } from 'node:os'
import { CoreError, LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN } from '@core/contracts'
import Type, { type Static } from 'typebox'

/** The heartbeat interval, TTL and grace period when the config names none, ms. */
export const DEFAULT_NODE_HEARTBEAT = { intervalMs: 10_000, ttlMs: 30_000, gracePeriodMs: 60_000 }

/**
 * The `node` section of the hub config: how this hub describes itself to the node registry
 * and where the registry lives.
 */
export const NodeConfigSchema = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        pattern: '^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$',
        description: "This node's name (a DNS label). Default: the host name, lower-cased",
      }),
    ),
    labels: Type.Optional(
      Type.Record(
        Type.String({ pattern: LABEL_KEY_PATTERN }),
        Type.String({ pattern: LABEL_VALUE_PATTERN, maxLength: 63 }),
        {
          additionalProperties: false,
          description:
            'Kubernetes labels of this node, e.g. { "room": "kitchen" }. Env CORE_NODE_LABELS="room=kitchen,floor=1" (replaces them)',
        },
      ),
    ),
    etcdUrl: Type.Optional(
      Type.String({
        pattern: '^https?://',
        description:
          'etcd client URL: share the registry with other nodes (@core/node-registry-etcd). Env CORE_ETCD_URL. Default: in memory, this hub only',
      }),
    ),
    etcdPrefix: Type.Optional(
      Type.String({
        pattern: '^/[^\\s]*[^/\\s]$',
        description: 'Key prefix of the registry in etcd. Default /core',
      }),
    ),
    heartbeat: Type.Optional(
      Type.Object(
        {
          intervalMs: Type.Optional(
            Type.Integer({ minimum: 1, description: 'Heartbeat interval, ms. Default 10000' }),
          ),
          ttlMs: Type.Optional(
            Type.Integer({
              minimum: 1,
              description: 'OFFLINE after this long without a heartbeat, ms. Default 30000',
            }),
          ),
          gracePeriodMs: Type.Optional(
            Type.Integer({
              minimum: 0,
              description: 'Removed this long after going OFFLINE, ms. Default 60000',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: 'This hub in the node registry' },
)
export type NodeConfigFile = Static<typeof NodeConfigSchema>

/** The node settings, resolved. */
export interface NodeSettings {
  name: string
  labels: Record<string, string>
  /** `undefined`: the in-memory registry. */
  etcdUrl: string | undefined
  etcdPrefix: string
  heartbeat: { intervalMs: number; ttlMs: number; gracePeriodMs: number }
}

/**
 * Resolves the `node` section with `CORE_NODE_LABELS` (`room=kitchen,floor=1`, replacing the
 * file's labels) and `CORE_ETCD_URL` (overriding `etcdUrl`).
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` naming the variable for a bad label list or URL.
 */
export function resolveNodeSettings(
  file: NodeConfigFile | undefined,
  env: Record<string, string | undefined>,
): NodeSettings {
  const labelsText = env.CORE_NODE_LABELS?.trim()
  const etcdUrl = env.CORE_ETCD_URL?.trim()
  if (etcdUrl && !/^https?:\/\/\S+$/.test(etcdUrl)) {
    throw new CoreError(
      'E_VALIDATION',
      'Invalid environment: CORE_ETCD_URL must be an etcd client URL such as http://127.0.0.1:2379',
      {
        details: {
          errors: [
            {
              variable: 'CORE_ETCD_URL',
              keyword: 'pattern',
              message: 'must start with http:// or https://',
            },
          ],
        },
      },
    )
  }
  return {
    name: file?.name ?? defaultNodeName(),
    labels: labelsText ? parseLabelList(labelsText) : { ...file?.labels },
    etcdUrl: etcdUrl || file?.etcdUrl,
    etcdPrefix: file?.etcdPrefix ?? '/core',
    heartbeat: { ...DEFAULT_NODE_HEARTBEAT, ...file?.heartbeat },
  }
}

/** `room=kitchen,floor=1` → `{ room: 'kitchen', floor: '1' }`, each key and value checked. */
function parseLabelList(text: string): Record<string, string> {
  const labels: Record<string, string> = {}
  const keyRe = new RegExp(LABEL_KEY_PATTERN)
  const valueRe = new RegExp(LABEL_VALUE_PATTERN)
  for (const [index, pair] of text.split(',').entries()) {
    const eq = pair.indexOf('=')
    const key = pair.slice(0, eq).trim()
    const value = pair.slice(eq + 1).trim()
    if (eq < 0 || !keyRe.test(key) || value.length > 63 || !valueRe.test(value)) {
      throw new CoreError(
        'E_VALIDATION',
        `Invalid environment: CORE_NODE_LABELS item ${index + 1} "${pair}" must be key=value with a Kubernetes label key and value (e.g. CORE_NODE_LABELS="room=kitchen,floor=1")`,
        {
          details: {
            errors: [
              {
                variable: 'CORE_NODE_LABELS',
                keyword: 'pattern',
                message: `item ${index + 1} is not key=value`,
              },
            ],
          },
        },
      )
    }
    labels[key] = value
  }
  return labels
}

/** The host name as a DNS label: lower case, other characters as `-`, at most 63. */
function defaultNodeName(): string {
  const name = hostname()
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '')
  return name === '' ? 'hub' : name
}
