/**
 * The layers of src/, bottom to top (issue 13): a module imports only from its own folder and
 * from folders in lower layers. `npm run deps` checks it, and `npm test` runs it first: a
 * violation fails the build.
 */
const LAYERS = [
  ['util'],
  ['money'],
  ['store'],
  ['choker', 'accounting', 'wallet', 'config'],
  ['settlement'],
  ['engine'],
  ['market'],
  ['daemon'],
  ['api'],
  ['cli', 'dev']
]

const upward = LAYERS.flatMap((layer, rank) => {
  const above = LAYERS.slice(rank + 1).flat()
  if (above.length === 0) return []
  return layer.map((folder) => ({
    name: `layer-${folder}`,
    comment: `${folder}/ may import only from the layers below it (${LAYERS.slice(0, rank).flat().join(', ') || 'none'})`,
    severity: 'error',
    from: { path: `^src/${folder}/` },
    to: { path: `^src/(${above.join('|')})/` }
  }))
})

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'cli-through-api',
      comment: 'the CLI talks to the daemon through api/: never engine/, market/ or settlement/, and of daemon/ only what runs the daemon process',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/(engine|market|settlement|daemon)/', pathNot: '^src/daemon/(daemon|faults|logger)[.]ts$' }
    },
    {
      name: 'web-only-api-types',
      comment: 'the dashboard (web/) runs in the browser and talks to the daemon over HTTP only: of src/ it imports the API\'s types, nothing else',
      severity: 'error',
      from: { path: '^src/web/' },
      to: { path: '^src/', pathNot: ['^src/web/', '^src/api/types[.]ts$'] }
    },
    {
      name: 'web-types-only',
      comment: 'and those as types (`import type`): no daemon code is bundled into the page',
      severity: 'error',
      from: { path: '^src/web/' },
      to: { path: '^src/api/', dependencyTypesNot: ['type-only'] }
    },
    {
      name: 'web-uses-preact-only',
      comment: 'the dashboard\'s one library is Preact (compiled in at build time; no other UI package, no CDN)',
      severity: 'error',
      from: { path: '^src/web/', pathNot: '^src/web/vite[.]config[.]ts$' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'], pathNot: '(^|/)node_modules/preact/' }
    },
    {
      name: 'no-circular',
      comment: 'modules that import each other, however far round',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true }
    },
    {
      name: 'no-test-imports',
      comment: 'src/, bench/ and testkit/ stand without test/: helpers test/ and bench/ share belong in testkit/',
      severity: 'error',
      from: { path: '^(src|bench|testkit)/' },
      to: { path: '^test/' }
    },
    {
      name: 'no-testkit-in-src',
      comment: 'testkit/ is for test/ and bench/: the product does not import it',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^testkit/' }
    },
    {
      name: 'dev-tools-stay-in-dev',
      comment: 'the demo, devnet and local chain are tools: only dev/ and cli/ use them',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(dev|cli)/' },
      to: { path: '^src/dev/' }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.tsx', '.js'] }
  }
}
