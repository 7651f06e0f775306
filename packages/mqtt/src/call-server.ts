import {
  assertMqttTopic,
  assertServiceName,
  CoreError,
  isTraceparent,
  type RateLimitedLogger,
  toCoreError,
} from '@core/contracts'
import type { TopicMatcher } from '@core/event-bus'
import type { Kernel } from '@core/kernel'
import type { SignableEvent, Verifier } from '@core/signing'
import type { IPublishPacket } from 'mqtt'
import type { SendOptions } from './connection.js'
import { parseJsonPayload } from './payload.js'
import { isSignedEnvelope, signedCallData, verifySignedCall } from './signed-call.js'
import type { AuthorizeMqttCall, Counters } from './types.js'

/** What {@link createCallServer} needs. @internal */
export interface CallServerDeps {
  kernel: Kernel
  prefix: string
  /** Service names that may be called; `undefined` = all. */
  allowed: TopicMatcher<true> | undefined
  send: (topic: string, payload: string, options: SendOptions) => void
  counters: Counters
  /**
   * Checks each call's bearer token; `undefined` = the broker is trusted (`trustBroker`), every
   * call is let through as caller `mqtt`.
   */
  authorize: AuthorizeMqttCall | undefined
  /** The bridge's rate-limited warnings. */
  limited: RateLimitedLogger
  /** Verifies calls in the signed form: a valid signature stands in for the token. */
  verifier: Verifier | undefined
}

/** Serves `<prefix>/call/<service>`. @internal */
export interface CallServer {
  /** The filter to subscribe: `<prefix>/call/+`. */
  readonly filter: string
  /** True when `topic` is a call topic. */
  owns(topic: string): boolean
  /** Serves one call; the promise (if any) settles once the reply is sent. */
  handle(topic: string, payload: Buffer, packet: IPublishPacket): Promise<void> | undefined
}

/** The JSON body of a call from an MQTT 3.1.1 client (or a 5 client without a response topic). */
interface CallEnvelope {
  params?: unknown
  replyTo?: unknown
  correlationId?: unknown
  traceparent?: unknown
  /** `Bearer <token>`, for clients that cannot set the MQTT 5 user property. */
  authorization?: unknown
}

/**
 * Service calls over MQTT. A message on `<prefix>/call/<service>` is a call:
 *
 * - MQTT 5 with a response topic: the payload is the params (JSON; empty = `{}`); the reply goes
 *   to the response topic with the request's correlation data.
 * - otherwise (MQTT 3.1.1): the payload is `{ params?, replyTo?, correlationId? }`; the reply
 *   goes to `replyTo` and carries `correlationId` in its body. Without `replyTo` the call runs
 *   and its outcome is only logged.
 *
 * The reply is `{ result }` or `{ error: <CoreError JSON> }` (plus `correlationId` in the
 * body form), at the request's QoS (at most 1), never retained. A user property (MQTT 5) or
 * body field `traceparent` is passed on as `meta.traceparent`.
 *
 * A call in the signed form (a CloudEvent of type `core.mqtt.call`, `subject` the service,
 * `data` `{ params, replyTo?, correlationId? }`, signed with `@core/signing`) is checked by
 * `verifier` instead of the token: `meta.caller` is the key's owner (else `mqtt`), `meta.sigkid`
 * the key; a refusal is replied as the CoreError with `details.reason`.
 *
 * With `authorize`, each call's token (user property `authorization: Bearer <token>`, else
 * the body field `authorization`) is checked before the service is looked up; a refusal is
 * replied as the CoreError (`E_UNAUTHENTICATED`, `E_FORBIDDEN`). Then the kernel's operator
 * policy (`kernel.security`) weighs the call as `token:<id>` (or the authorizer's `subject`), or
 * as `user:mqtt` when the broker is trusted: a refusal is replied as `E_FORBIDDEN` naming the
 * rule and reported (`core.security.denied`, the counter). Refusals and failures without a
 * reply topic are logged through the rate limiter.
 * @internal
 */
export function createCallServer(deps: CallServerDeps): CallServer {
  const { kernel, counters, limited } = deps
  const callPrefix = `${deps.prefix}/call/`
  const filter = `${callPrefix}+`
  // Callers reuse their reply topic and call the same services: remember what was checked.
  const goodReplyTopics = new Set<string>()
  const serviceChecks = new Map<string, CoreError | null>()
  const checkService = (service: string): CoreError | null => {
    let verdict = serviceChecks.get(service)
    if (verdict !== undefined) return verdict
    verdict = null
    try {
      assertServiceName(service, 'service name')
      if (deps.allowed !== undefined && deps.allowed.match(service).length === 0) {
        verdict = new CoreError(
          'E_FORBIDDEN',
          `Service "${service}" may not be called over MQTT on this hub; the bridge's "calls" option lists what may`,
          { details: { service } },
        )
      }
    } catch (error) {
      verdict = error as CoreError
    }
    if (serviceChecks.size >= 1_000) serviceChecks.clear()
    serviceChecks.set(service, verdict)
    return verdict
  }

  const reject = (topic: string, why: string): undefined => {
    counters.rejected++
    counters.callErrors++
    limited.warn('mqtt.call.refused', { topic }, `MQTT call on "${topic}" refused: ${why}`)
    return undefined
  }

  return {
    filter,
    owns: (topic) => topic.startsWith(callPrefix) && !topic.includes('/', callPrefix.length),
    handle: (topic, payload, packet) => {
      counters.calls++
      const service = topic.slice(callPrefix.length)
      const props = packet.properties
      const qos = packet.qos === 0 ? 0 : 1
      let replyTo: string | undefined
      let correlationId: unknown
      let params: unknown
      let traceparent: unknown = props?.userProperties?.traceparent
      let authorization: unknown = firstValue(props?.userProperties?.authorization)
      let bodyForm = false
      let signed: SignableEvent | undefined

      if (typeof props?.responseTopic === 'string') {
        replyTo = props.responseTopic
        if (payload.length === 0) params = {}
        else {
          const parsed = parseJsonPayload(payload)
          if (!parsed.ok) {
            counters.rejected++
            return replyError(
              new CoreError(
                'E_VALIDATION',
                `Call of "${service}": ${parsed.reason}; send the params as a JSON object`,
                { details: { service } },
              ),
            )
          }
          params = parsed.value
          if (deps.verifier !== undefined && isSignedEnvelope(params)) {
            signed = params
            params = signedCallData(signed).params ?? {}
          }
        }
      } else {
        bodyForm = true
        const parsed = parseJsonPayload(payload)
        if (!parsed.ok) {
          return reject(
            topic,
            `${parsed.reason}; MQTT 3.1.1 clients send {"params":{…},"replyTo":"<topic>","correlationId":"…"}`,
          )
        }
        const body = parsed.value
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          return reject(
            topic,
            'the body must be a JSON object {"params","replyTo","correlationId"}',
          )
        }
        if (deps.verifier !== undefined && isSignedEnvelope(body)) signed = body
        const envelope = signed === undefined ? (body as CallEnvelope) : signedCallData(signed)
        if (envelope.replyTo !== undefined && typeof envelope.replyTo !== 'string') {
          return reject(topic, '"replyTo" must be a topic name (a string)')
        }
        replyTo = envelope.replyTo
        correlationId = envelope.correlationId
        params = envelope.params ?? {}
        traceparent ??= envelope.traceparent
        authorization ??= envelope.authorization
      }

      if (replyTo !== undefined && !goodReplyTopics.has(replyTo)) {
        try {
          assertMqttTopic(replyTo, 'reply topic')
        } catch (error) {
          return reject(topic, (error as Error).message)
        }
        if (replyTo.startsWith(callPrefix)) {
          return reject(topic, `the reply topic "${replyTo}" is itself a call topic`)
        }
        if (goodReplyTopics.size >= 1_000) goodReplyTopics.clear()
        goodReplyTopics.add(replyTo)
      }

      const refusal = checkService(service)
      if (refusal !== null) {
        if (refusal.code === 'E_VALIDATION') counters.rejected++
        return replyError(refusal)
      }

      const meta: Record<string, unknown> = { transport: 'mqtt', caller: MQTT_CALLER }
      if (isTraceparent(traceparent)) meta.traceparent = traceparent
      const call = (subject: string): Promise<void> | undefined => {
        try {
          kernel.security.authorize({
            subject,
            action: 'services.call',
            resource: service,
            via: 'mqtt',
          })
        } catch (error) {
          return replyError(toCoreError(error, 'E_FORBIDDEN', `Call of "${service}" refused`))
        }
        return kernel.services.call(service, params, { meta }).then(
          (result) => reply({ result: result === undefined ? null : result }),
          (error: unknown) =>
            replyError(toCoreError(error, 'E_INTERNAL', `Call of "${service}" failed`)),
        )
      }
      if (signed !== undefined && deps.verifier !== undefined) {
        return verifySignedCall(deps.verifier, signed, service, counters, limited).then(
          (verified) => {
            meta.caller = verified.owner ?? MQTT_CALLER
            meta.sigkid = verified.keyId
            // The policy weighs a signed call as the key's owner (a broker user), else `user:mqtt`.
            return call(`user:${verified.owner ?? MQTT_CALLER}`)
          },
          (error: unknown) =>
            replyError(toCoreError(error, 'E_UNAUTHENTICATED', `Call of "${service}" refused`)),
        )
      }
      // A trusted broker says nothing about who published: every such caller is `user:mqtt`.
      if (deps.authorize === undefined) return call(`user:${MQTT_CALLER}`)

      let token: string | undefined
      if (authorization !== undefined) {
        const match = typeof authorization === 'string' ? BEARER.exec(authorization) : null
        if (match === null) {
          return replyError(
            new CoreError(
              'E_UNAUTHENTICATED',
              `Call of "${service}": the authorization must read "Bearer <token>" (MQTT 5 user property or the "authorization" field of the JSON body)`,
              { details: { service } },
            ),
          )
        }
        token = match[1]
      }
      return deps.authorize(token, service).then(
        (granted) => {
          meta.caller = granted.caller
          if (granted.tokenId !== undefined) meta.token = granted.tokenId
          return call(
            granted.subject ??
              (granted.tokenId === undefined
                ? `user:${granted.caller}`
                : `token:${granted.tokenId}`),
          )
        },
        (error: unknown) => {
          const refusal = toCoreError(
            error,
            'E_UNAUTHENTICATED',
            `Call of "${service}" not authorised`,
          )
          if (refusal.code === 'E_FORBIDDEN') {
            const token = refusal.details?.token
            kernel.security.report({
              subject: typeof token === 'string' ? `token:${token}` : 'token:unknown',
              action: 'services.call',
              resource: service,
              reason: refusal.message,
              via: 'mqtt',
            })
          }
          return replyError(refusal)
        },
      )

      function replyError(error: CoreError): undefined {
        counters.callErrors++
        if (replyTo === undefined) {
          limited.warn(
            `mqtt.call.failed.${error.code}`,
            { err: error, service },
            `MQTT call of "${service}" failed (no reply topic): ${error.message}`,
          )
          return
        }
        reply({ error: error.toJSON() })
      }

      function reply(body: Record<string, unknown>): void {
        if (replyTo === undefined) return
        const options: SendOptions = { qos, retain: false }
        if (bodyForm) {
          if (correlationId !== undefined) body.correlationId = correlationId
        } else {
          options.properties = { contentType: 'application/json' }
          if (props?.correlationData !== undefined) {
            options.properties.correlationData = props.correlationData
          }
        }
        let text: string
        try {
          text = JSON.stringify(body)
        } catch (error) {
          text = JSON.stringify({
            error: new CoreError('E_INTERNAL', `The result of "${service}" is not JSON`, {
              cause: error,
            }).toJSON(),
            ...(bodyForm && correlationId !== undefined ? { correlationId } : {}),
          })
        }
        deps.send(replyTo, text, options)
      }
    },
  }
}

/** `meta.caller` of MQTT calls when the broker is trusted (no token). @internal */
export const MQTT_CALLER = 'mqtt'

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i

/** mqtt.js gives a repeated user property as an array: its first value. */
function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
