import { defineConfig } from 'vitest/config'

// Tests import workspace packages from source through the `warden-source` export condition,
// so a test run never depends on a stale dist/.
export default defineConfig({
  resolve: { conditions: ['warden-source'] },
  ssr: { resolve: { conditions: ['warden-source'], externalConditions: ['warden-source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    server: { deps: { inline: [/@warden\//] } },
  },
})
