import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The project's root, from dist/src/util (every compiled module sits three levels below it). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** Where `npm run build` writes the compiled contracts. */
export const CONTRACT_ARTIFACTS = join(PROJECT_ROOT, 'dist', 'contracts')
export const CONTRACT_SOURCES = join(PROJECT_ROOT, 'src', 'settlement', 'contracts')

/** Where `npm run build` writes the dashboard (src/web, compiled by Vite), which the daemon serves. */
export const WEB_ROOT = join(PROJECT_ROOT, 'dist', 'web')
