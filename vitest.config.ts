// Only what differs from vitest's defaults (test files: **/*.test.ts).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Tests never write into the learner's input history (see the file).
    setupFiles: ['tests/helpers/history-sandbox.ts'],
  },
});
