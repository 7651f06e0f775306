import { CoreError } from '@core/contracts'
import type {
  NodeBackendChange,
  NodeRecord,
  NodeRegistryBackend,
  NodeSnapshotEntry,
} from '@core/node-registry'
import { Etcd3, type IKeyValue, type Watcher } from 'etcd3'
import { KeepaliveChannel } from './keepalive-channel.js'

/** Options of {@link createEtcdNodeRegistryBackend}. @public */
export interface CreateEtcdNodeRegistryBackendOptions {
  /** etcd client URL(s), e.g. `http://127.0.0.1:2379`. */
  url: string | string[]
  /** Key prefix of this registry, without a trailing `/`. @defaultValue `/core` */
  prefix?: string
  /** Deadline of each etcd call, ms. @defaultValue 3_000 */
  callTimeoutMs?: number
}

interface HeldLease {
  id: string
  ttlSeconds: number
}

/**
 * Creates the etcd backend of the node registry (etcd v3 API through the `etcd3` client):
 *
 * - passports at `<prefix>/nodes/<uid>` (JSON `{ passport, registeredAt }`, no lease);
 * - liveness at `<prefix>/leases/<uid>`, bound to an etcd lease of `ceil(ttlMs / 1000)` s
 *   (etcd leases count whole seconds and have a floor of about 2 s); each heartbeat renews the
 *   lease over one shared LeaseKeepAlive stream and rewrites the key, so every watcher sees it;
 * - every instance watches the prefix: a lease key that disappears (TTL passed, or released)
 *   is `expired`; the grace-period removal is a transaction "the lease key does not exist and
 *   the passport does" → delete, so of several instances exactly one removes it;
 * - a heartbeat whose lease etcd no longer knows (the node was paused past its TTL, or etcd
 *   lost it) grants a new one and re-creates the passport if it was removed meanwhile.
 *
 * While etcd is unreachable every call fails with `E_UNAVAILABLE` (the registry keeps its
 * last view and retries); the watch reconnects by itself and resumes from its last revision.
 *
 * @param options - `url`, `prefix`, `callTimeoutMs`.
 * @returns The backend; connects lazily.
 * @throws {@link @core/contracts!CoreError} `E_VALIDATION` for an empty url or a prefix ending in `/`.
 * @see etcd v3 API: KV, Lease (LeaseGrant, LeaseKeepAlive), Watch, Txn
 * @example
 * ```ts
 * const backend = createEtcdNodeRegistryBackend({ url: 'http://127.0.0.1:2379', prefix: '/core' })
 * const registry = createNodeRegistry({ backend })
 * ```
 * @public
 */
export function createEtcdNodeRegistryBackend(
  options: CreateEtcdNodeRegistryBackendOptions,
): NodeRegistryBackend {
  const hosts = Array.isArray(options.url) ? options.url : [options.url]
  const prefix = options.prefix ?? '/core'
  if (hosts.length === 0 || hosts.some((h) => typeof h !== 'string' || h === '')) {
    throw new CoreError('E_VALIDATION', 'Invalid etcd url: give e.g. "http://127.0.0.1:2379"', {
      details: { errors: [{ path: '/url', keyword: 'minLength', message: 'must not be empty' }] },
    })
  }
  if (prefix.endsWith('/')) {
    throw new CoreError('E_VALIDATION', `Invalid etcd prefix "${prefix}": drop the trailing "/"`, {
      details: { errors: [{ path: '/prefix', keyword: 'pattern', message: 'ends with "/"' }] },
    })
  }
  const callTimeoutMs = options.callTimeoutMs ?? 3_000
  const client = new Etcd3({
    hosts,
    dialTimeout: callTimeoutMs,
    defaultCallOptions: (context) =>
      context.isStream ? {} : { deadline: Date.now() + callTimeoutMs },
  })
  const keepalives = new KeepaliveChannel(client, callTimeoutMs)
  const nodeKey = (uid: string): string => `${prefix}/nodes/${uid}`
  const leaseKey = (uid: string): string => `${prefix}/leases/${uid}`
  const held = new Map<string, HeldLease>()
  const watchers = new Set<Watcher>()
  let closed = false

  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    if (closed) throw new CoreError('E_UNAVAILABLE', 'The etcd node-registry backend is closed')
    try {
      return await run()
    } catch (error) {
      if (CoreError.is(error)) throw error
      const reason = error instanceof Error ? error.message : String(error)
      throw new CoreError(
        'E_UNAVAILABLE',
        `etcd at ${hosts.join(', ')} could not ${what}: ${reason}; check that etcd runs and the url is right`,
        { cause: error },
      )
    }
  }

  const grant = async (record: NodeRecord, ttlSeconds: number): Promise<HeldLease> => {
    const uid = record.passport.metadata.uid
    const { ID } = await client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 })
    const lease = { id: String(ID), ttlSeconds }
    held.set(uid, lease)
    // The passport may have been removed while the node was away: put it back, never overwrite.
    await client
      .if(nodeKey(uid), 'Version', '==', 0)
      .then(client.put(nodeKey(uid)).value(JSON.stringify(record)))
      .commit()
    return lease
  }

  return {
    name: 'etcd',
    put(record) {
      return call('store a passport', async () => {
        await client.put(nodeKey(record.passport.metadata.uid)).value(JSON.stringify(record))
      })
    },
    heartbeat(record, ttlMs) {
      return call('renew a node lease', async () => {
        const uid = record.passport.metadata.uid
        const ttlSeconds = Math.max(1, Math.ceil(ttlMs / 1000))
        let lease = held.get(uid)
        if (lease !== undefined && lease.ttlSeconds === ttlSeconds) {
          const remaining = await keepalives.keepalive(lease.id)
          if (remaining <= 0) lease = undefined
        } else {
          lease = undefined
        }
        lease ??= await grant(record, ttlSeconds)
        await client
          .put(leaseKey(uid))
          .value(JSON.stringify({ renewedAt: Date.now() }))
          .lease(lease.id)
      })
    },
    remove(uid, removeOptions = {}) {
      return call('remove a node', async () => {
        if (removeOptions.onlyIfExpired === true) {
          const result = await client
            .if(leaseKey(uid), 'Version', '==', 0)
            .and(nodeKey(uid), 'Version', '>', 0)
            .then(client.delete().key(nodeKey(uid)))
            .commit()
          return result.succeeded
        }
        const lease = held.get(uid)
        held.delete(uid)
        // The passport first: watchers see `deleted`, and the lease key's delete after it
        // concerns a node they no longer track (no `offline` for a released node).
        const result = await client
          .if(nodeKey(uid), 'Version', '>', 0)
          .then(client.delete().key(nodeKey(uid)), client.delete().key(leaseKey(uid)))
          .commit()
        if (lease !== undefined) {
          await client.leaseClient.leaseRevoke({ ID: lease.id }).catch(() => {})
        }
        return result.succeeded
      })
    },
    load() {
      return call('read the nodes', async () => {
        const kvs = await client.getAll().prefix(`${prefix}/`).exec()
        const live = new Set<string>()
        const records: NodeRecord[] = []
        for (const kv of kvs.kvs) {
          const change = decode(kv, 'put')
          if (change?.type === 'heartbeat') live.add(change.uid)
          else if (change?.type === 'put') records.push(change.record)
        }
        return records.map(
          (record): NodeSnapshotEntry => ({
            ...record,
            live: live.has(record.passport.metadata.uid),
          }),
        )
      })
    },
    watch(handler, onConnection) {
      let watcher: Watcher | undefined
      let stopped = false
      client
        .watch()
        .prefix(`${prefix}/`)
        .create()
        .then(
          (created) => {
            if (stopped || closed) {
              created.cancel().catch(() => {})
              return
            }
            watcher = created
            watchers.add(created)
            created.on('put', (kv) => {
              const change = decode(kv, 'put')
              if (change) handler(change)
            })
            created.on('delete', (kv) => {
              const change = decode(kv, 'delete')
              if (change) handler(change)
            })
            created.on('disconnected', (error) => onConnection?.(error))
            created.on('connected', () => onConnection?.(undefined))
            created.on('error', (error) => onConnection?.(error))
          },
          (error: unknown) =>
            onConnection?.(error instanceof Error ? error : new Error(String(error))),
        )
      return () => {
        stopped = true
        if (watcher !== undefined) {
          watchers.delete(watcher)
          watcher.cancel().catch(() => {})
        }
      }
    },
    async close() {
      if (closed) return
      closed = true
      keepalives.close()
      await Promise.all([...watchers].map((w) => w.cancel().catch(() => {})))
      watchers.clear()
      client.close()
    },
  }

  function decode(kv: IKeyValue, event: 'put' | 'delete'): NodeBackendChange | undefined {
    const key = kv.key.toString()
    const rest = key.slice(prefix.length + 1)
    const slash = rest.indexOf('/')
    const kind = rest.slice(0, slash)
    const uid = rest.slice(slash + 1)
    if (slash < 0 || uid === '') return undefined
    if (kind === 'leases') return { type: event === 'put' ? 'heartbeat' : 'expired', uid }
    if (kind !== 'nodes') return undefined
    if (event === 'delete') return { type: 'deleted', uid }
    try {
      const record = JSON.parse(kv.value.toString()) as NodeRecord
      return { type: 'put', uid, record }
    } catch {
      return undefined // not written by a registry: ignored
    }
  }
}
