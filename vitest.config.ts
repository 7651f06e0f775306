import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const root = fileURLToPath(new URL('.', import.meta.url))

const ALL = [
  'packages/*/test/**/*.test.ts',
  'apps/**/test/**/*.test.ts',
  'tools/*/test/**/*.test.ts',
]
const EXCLUDE = ['**/node_modules/**', '**/dist/**']

// Files that kill and restart processes or servers (a private broker, a writer under SIGKILL,
// an etcd restart), boot hubs in child processes, time worker threads or /health latency: with other files
// running beside them on a loaded 2-core machine their children missed the deadlines, so they
// run one at a time, after the other projects have finished (`sequence.groupOrder`).
const SERIAL = [
  'apps/hub/test/main.e2e.test.ts',
  'apps/hub/test/cluster.e2e.test.ts',
  'apps/hub/test/regressions/issue-8-zigbee2mqtt-flood.integration.test.ts',
  'packages/kernel/test/isolation/worker.test.ts',
  'packages/storage-sqlite/test/crash.test.ts',
  'packages/storage-postgres/test/crash.test.ts',
  'packages/node-registry-etcd/test/multi-process.test.ts',
  'packages/mindbus/test/broker-restart.integration.test.ts',
  'packages/redis/test/faults.test.ts',
  'apps/hub/test/cluster-restart.e2e.test.ts',
]

// Packages whose test files keep no process-wide state between files: they share worker
// processes (isolate: false), which halved their run time (no fresh process and module graph
// per file). Everything else gets a fresh process per file.
const SHARED_WORKERS = [
  'packages/{contracts,event-bus,state-engine,service-registry,storage,storage-sqlite,storage-postgres,signing,testing,node-registry,node-registry-etcd,mqtt}/test/**/*.test.ts',
]
// Files of those packages that replace a module (`vi.mock`): a mock would leak into the next
// file of a shared process, so they run isolated.
const MOCKING = ['packages/storage-sqlite/test/missing-bindings.test.ts']

export default defineConfig({
  resolve: {
    alias: [
      // @core/x → packages/x/src/index.ts, @core/x/y → packages/x/src/y.ts (tests run on source)
      { find: /^@core\/([^/]+)$/, replacement: `${root}packages/$1/src/index.ts` },
      { find: /^@core\/([^/]+)\/(.+)$/, replacement: `${root}packages/$1/src/$2.ts` },
    ],
  },
  test: {
    // Each project below names its own files (a project's include and exclude add to these).
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Most test files wait on sockets, child processes and timers rather than on the CPU. The
    // default (available cores − 1) is one worker on a 2-core machine, which ran the 160 files
    // one after another (21 min on a loaded machine, 8.5 min on a quiet one); four workers keep
    // both cores busy while the others wait. Override with `vitest run --maxWorkers=N`.
    maxWorkers: 4,
    reporters: process.env.CI ? ['default'] : ['default'],
    // `vitest run` runs all four; `--project <name>` picks one.
    projects: [
      {
        extends: true,
        test: {
          name: 'shared-workers',
          include: SHARED_WORKERS,
          exclude: [...EXCLUDE, ...SERIAL, ...MOCKING],
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'isolated',
          include: ALL,
          exclude: [...EXCLUDE, ...SERIAL, ...SHARED_WORKERS],
        },
      },
      // (the `isolated` project's exclude would drop these, being under SHARED_WORKERS' globs)
      { extends: true, test: { name: 'mocking', include: MOCKING, exclude: EXCLUDE } },
      {
        extends: true,
        test: {
          name: 'serial',
          include: SERIAL,
          exclude: EXCLUDE,
          fileParallelism: false,
          // after every other project (which share group 0): alone, one file at a time
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
