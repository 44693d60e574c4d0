// Builds ui/src/markdown.js alone, as a script that sets window.MarkdownUnderTest, so tests can
// put the app's real renderer to work on payloads the model cannot be made to say.
// Used by tests only; the app never loads it.
import { fileURLToPath } from 'node:url';

export default {
  root: fileURLToPath(new URL('../../ui', import.meta.url)),
  logLevel: 'warn',
  build: {
    outDir: process.env.MARKDOWN_HARNESS_OUT,
    emptyOutDir: true,
    lib: {
      entry: fileURLToPath(new URL('../../ui/src/markdown.js', import.meta.url)),
      name: 'MarkdownUnderTest',
      formats: ['iife'],
      fileName: () => 'markdown-under-test.js',
    },
  },
};
