import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Most files spend their time waiting on scaled clocks and loopback sockets, not computing: three
    // at once keep the two cores of these machines busy (the default, cores - 1, leaves one idle).
    maxWorkers: 3,
  },
});
