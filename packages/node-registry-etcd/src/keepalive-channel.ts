import type { Etcd3, IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse } from 'etcd3'

/**
 * One LeaseKeepAlive stream shared by every lease of a backend: a keepalive writes the lease
 * id and waits for the answer carrying it. 1,000 leases are 1,000 small writes on one stream,
 * not 1,000 streams. A broken stream fails what is waiting and is reopened on the next call.
 * @internal
 */
export class KeepaliveChannel {
  private stream:
    | Promise<IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>>
    | undefined
  private readonly waiting = new Map<
    string,
    Array<(result: Error | ILeaseKeepAliveResponse) => void>
  >()

  constructor(
    private readonly client: Etcd3,
    private readonly timeoutMs: number,
  ) {}

  /** Renews lease `id`; resolves its remaining TTL in seconds (`0`: the lease is gone). */
  async keepalive(id: string): Promise<number> {
    const stream = await this.open()
    const response = await new Promise<Error | ILeaseKeepAliveResponse>((resolve) => {
      const timer = setTimeout(() => {
        this.fail(new Error(`no keepalive answer within ${this.timeoutMs} ms`))
      }, this.timeoutMs)
      const list = this.waiting.get(id) ?? []
      list.push((result) => {
        clearTimeout(timer)
        resolve(result)
      })
      this.waiting.set(id, list)
      stream.write({ ID: id })
    })
    if (response instanceof Error) throw response
    return Number(response.TTL ?? 0)
  }

  close(): void {
    this.fail(new Error('the etcd backend is closed'))
  }

  private open(): Promise<IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>> {
    if (this.stream !== undefined) return this.stream
    const opening = this.client.leaseClient.leaseKeepAlive().then((stream) => {
      stream.on('data', (response: ILeaseKeepAliveResponse) => {
        const id = String(response.ID)
        const list = this.waiting.get(id)
        const next = list?.shift()
        if (list?.length === 0) this.waiting.delete(id)
        next?.(response)
      })
      const broken = (error: unknown): void => {
        if (this.stream === opening)
          this.fail(error instanceof Error ? error : new Error(String(error)))
      }
      stream.on('error', broken)
      stream.on('end', () => broken(new Error('the keepalive stream ended')))
      return stream
    })
    this.stream = opening
    opening.catch(() => {
      if (this.stream === opening) this.stream = undefined
    })
    return opening
  }

  /** Fails every waiting keepalive and drops the stream (the next call opens a new one). */
  private fail(error: Error): void {
    const stream = this.stream
    this.stream = undefined
    stream?.then((s) => s.end()).catch(() => {})
    const waiting = [...this.waiting.values()].flat()
    this.waiting.clear()
    for (const settle of waiting) settle(error)
  }
}
