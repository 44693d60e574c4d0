import { defineConfig } from 'vite';

// The built UI goes inside the Python package, which the local server serves.
export default defineConfig({
  root: '.',
  base: '/',
  build: {
    outDir: '../desktop_llm/_ui',
    emptyOutDir: true,
    assetsDir: 'assets',
    modulePreload: { polyfill: false }, // the polyfill would be an inline script, which CSP forbids
    chunkSizeWarningLimit: 8000,
    target: 'es2022',
  },
  worker: { format: 'es' },
});
