// Minimal declarations for qlobber 8 (the package ships none). Only what the bus uses; kept
// internal: no public type of @core/event-bus mentions qlobber.
declare module 'qlobber' {
  export interface QlobberOptions {
    /** Word separator. Defaults to '.'. */
    separator?: string
    /** Matches exactly one word. Defaults to '*'. */
    wildcard_one?: string
    /** Matches zero or more words. Defaults to '#'. */
    wildcard_some?: string
    /** Whether `wildcard_one` also matches an empty word. Defaults to false. */
    match_empty_levels?: boolean
    cache_adds?: boolean | Map<string, unknown>
    /** How many `topic.split` results to cache. Defaults to 0. */
    cache_splits?: number
    /** Most words in a topic; more throws. Defaults to 100. */
    max_words?: number
    /** Most `wildcard_some` words in an added pattern; more throws. Defaults to 3. */
    max_wildcard_somes?: number
  }
  export class Qlobber<V = unknown> {
    constructor(options?: QlobberOptions)
    add(topic: string, value: V): this
    remove(topic: string, value?: V): this
    match(topic: string): V[]
    test(topic: string, value: V): boolean
    clear(): this
  }
  export class QlobberDedup<V = unknown> {
    constructor(options?: QlobberOptions)
    add(topic: string, value: V): this
    remove(topic: string, value?: V): this
    match(topic: string): Set<V>
    test(topic: string, value: V): boolean
    clear(): this
  }
}
