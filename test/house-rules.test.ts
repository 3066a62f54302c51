import t from 'tap'
import { readFile, readdir } from 'node:fs/promises'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { PROJECT_ROOT } from '../src/util/project.js'

// The sizes issue 13 set for the house: small modules, short functions. A file may be longer when
// it says why at its top, in a comment that starts with this.
const REASON_MARKER = 'Why this file is long:'
const MAX_FILE_LINES = 350
const MAX_TORRENT_LINES = 400
const MAX_FUNCTION_LINES = 80

async function sourceFiles (directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true, recursive: true })
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort()
}

interface LongFunction { readonly file: string, readonly line: number, readonly lines: number }

function longFunctions (file: string, text: string): LongFunction[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const found: LongFunction[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart()).line
      const last = source.getLineAndCharacterOfPosition(node.end).line
      if (last - first + 1 > MAX_FUNCTION_LINES) found.push({ file, line: first + 1, lines: last - first + 1 })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

t.test('every file in src/ is at most 350 lines, or says at its top why it is longer; engine/torrent.ts at most 400', async (t) => {
  const tooLong: string[] = []
  for (const path of await sourceFiles(join(PROJECT_ROOT, 'src'))) {
    const text = await readFile(path, 'utf8')
    const lines = text.split('\n').length
    const file = relative(PROJECT_ROOT, path)
    if (file === join('src', 'engine', 'torrent.ts')) {
      t.ok(lines <= MAX_TORRENT_LINES, `${file} has ${lines} lines (at most ${MAX_TORRENT_LINES})`)
      continue
    }
    const head = text.split('\n').slice(0, 30).join('\n')
    if (lines > MAX_FILE_LINES && !head.includes(REASON_MARKER)) tooLong.push(`${file}: ${lines} lines`)
  }
  t.same(tooLong, [], 'files over 350 lines without a reason at their top')
})

t.test('no function in src/ is over 80 lines', async (t) => {
  const found: string[] = []
  for (const path of await sourceFiles(join(PROJECT_ROOT, 'src'))) {
    const file = relative(PROJECT_ROOT, path)
    for (const long of longFunctions(file, await readFile(path, 'utf8'))) found.push(`${long.file}:${long.line} (${long.lines} lines)`)
  }
  t.same(found, [], 'functions over 80 lines')
})
