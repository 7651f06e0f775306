import { type FSWatcher, watch } from 'node:fs'

/** A running file watcher. @internal */
export interface PluginWatcher {
  close(): void
}

/** Default quiet time after the last change before a reload, ms. @internal */
export const DEFAULT_WATCH_DEBOUNCE_MS = 100

/**
 * Watches a plugin's folder (recursively, `node_modules` and dot-folders ignored) and calls
 * `onChange` once the files have been quiet for `debounceMs`.
 * @internal
 */
export function watchPlugin(
  dir: string,
  debounceMs: number | undefined,
  onChange: () => void,
): PluginWatcher {
  const wait = debounceMs ?? DEFAULT_WATCH_DEBOUNCE_MS
  let timer: ReturnType<typeof setTimeout> | undefined
  let watcher: FSWatcher | undefined
  const fire = (): void => {
    timer = undefined
    onChange()
  }
  const changed = (_event: string, file: string | Buffer | null): void => {
    const name = file === null ? '' : String(file)
    if (/(^|[\\/])(node_modules|\.[^\\/]*)([\\/]|$)/.test(name)) return
    if (timer !== undefined) clearTimeout(timer)
    timer = setTimeout(fire, wait)
    timer.unref?.()
  }
  try {
    watcher = watch(dir, { recursive: true, persistent: false }, changed)
  } catch {
    watcher = watch(dir, { persistent: false }, changed)
  }
  watcher.on('error', () => undefined)
  return {
    close: () => {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      watcher?.close()
      watcher = undefined
    },
  }
}
