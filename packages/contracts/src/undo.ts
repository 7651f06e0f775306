/**
 * The undo of whatever added something (a subscription, a service registration, a middleware,
 * a schema, a watch): call it, or let `using` dispose of it, to remove what it added. Calling
 * it again is harmless. Disposing it (`Symbol.dispose`, present from Node 20.4) does the same.
 *
 * @see TC39 Explicit Resource Management (`Disposable`, `using`)
 * @example
 * ```ts
 * const undo = bus.subscribe('lights.#', (event) => console.log(event.data))
 * undo() // or: using sub = bus.subscribe(…)
 * ```
 * @public
 */
export type Undo = (() => void) & Disposable
