import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const here = fileURLToPath(new URL('.', import.meta.url))

/**
 * The dashboard, compiled at build time into dist/web, which the daemon's control API serves at
 * `/`. JSX goes through Vite's own oxc transform with Preact's runtime (no Babel preset). Nothing
 * is inlined: the daemon's Content-Security-Policy allows scripts and styles from itself only.
 */
export default defineConfig({
  root: here,
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../../dist/web', import.meta.url)),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022'
  }
})
