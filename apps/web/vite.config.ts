import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

// The page is built into dist/page with relative URLs, so it works wherever it is served from
// (`unet serve`, any static host, a sub-folder).
export default defineConfig({
  root: fileURLToPath(new URL('./src/page', import.meta.url)),
  base: './',
  build: {
    outDir: fileURLToPath(new URL('./dist/page', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: true,
    chunkSizeWarningLimit: 2048,
  },
  worker: { format: 'es' },
  // the wasm backend is loaded only when chosen, and its .wasm files are fetched by URL
  assetsInclude: ['**/*.wasm'],
})
