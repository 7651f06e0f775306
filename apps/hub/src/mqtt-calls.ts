import { CoreError } from '@core/contracts'
import { allows, type HttpServer, type Principal } from '@core/http'
import type { AuthorizeMqttCall } from '@core/mqtt'
import type { MqttSettings } from './mqtt-config.js'

/** `meta.caller` of a service call that came over MQTT. */
export const MQTT_CALLER = 'mqtt'

/**
 * The hub's check of MQTT calls: the bearer token must be `CORE_ADMIN_TOKEN` or a token of the
 * HTTP token store, and its scopes must allow `services.call` on the service, exactly as for
 * `POST /api/services/<name>` (the HTTP server's own `authenticate`). The server is looked up
 * on each call (`http()`), because the hub creates the bridge before the HTTP server: until
 * then calls are refused with `E_UNAVAILABLE`.
 *
 * @param http - Returns the HTTP server once it exists, else `undefined`.
 * @returns The `authorizeCall` option of `createMqttBridge`.
 * @throws {@link @core/contracts!CoreError} (as a rejection) `E_UNAUTHENTICATED` without a token or with one the
 *   store does not know; `E_FORBIDDEN` when its scopes do not cover the service;
 *   `E_UNAVAILABLE` before the token store exists.
 */
export function createMqttCallAuthorizer(http: () => HttpServer | undefined): AuthorizeMqttCall {
  return async (token, service) => {
    if (token === undefined) {
      throw new CoreError(
        'E_UNAUTHENTICATED',
        `MQTT call of "${service}" without a bearer token: add the MQTT 5 user property "authorization: Bearer <token>" (MQTT 3.1.1: "authorization": "Bearer <token>" in the JSON body); create one with \`core token create --name <name> --scopes services.call:${service}\``,
        { details: { service } },
      )
    }
    const server = http()
    if (server === undefined) {
      throw new CoreError(
        'E_UNAVAILABLE',
        `MQTT call of "${service}" refused: the hub is still starting (no token store yet); try again in a moment`,
        { details: { service } },
      )
    }
    const principal: Principal = await server.authenticate(token)
    if (!allows(principal, 'services.call', service)) {
      throw new CoreError(
        'E_FORBIDDEN',
        `Token "${principal.name}" may not call "${service}" over MQTT: its scopes need services.call:${service} (or a pattern covering it)`,
        { details: { service, token: principal.id } },
      )
    }
    return { caller: MQTT_CALLER, tokenId: principal.id }
  }
}

/** The startup summary's words for how MQTT calls are served. */
export function describeMqttCalls(mqtt: MqttSettings): string {
  if (mqtt.calls === false) return 'calls off'
  const which = mqtt.calls === true ? 'all services' : mqtt.calls.join(', ')
  return mqtt.trustBroker
    ? `calls ON for ${which} WITHOUT tokens (trustBroker: broker ACLs are the only gate)`
    : `calls on for ${which} (bearer token per call, HTTP token scopes)`
}
