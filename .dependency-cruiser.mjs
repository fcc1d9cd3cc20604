/**
 * The import rules of src/, checked by test/layering.test.ts inside `npm test` (and by
 * `npm run lint:deps`): no import cycle anywhere, and no import from a lower layer to a higher one.
 *
 * Layers by directory (or file), lowest first. A module may import its own layer and any lower one.
 * Test files (`*.test.ts`) are exempt from the layer rule, not from the cycle rule.
 */
export const LAYERS = [
  ['src/internal'],
  ['src/money'],
  ['src/config'],
  ['src/protocol'],
  ['src/store'],
  ['src/context'],
  ['src/chain', 'src/vault', 'src/amqp', 'src/batch', 'src/cluster'],
  ['src/audit', 'src/outbox', 'src/deposits', 'src/payouts', 'src/treasury'],
  ['src/monitor', 'src/server'],
  ['src/service.ts', 'src/lane.ts', 'src/client', 'src/devnet', 'src/bin'],
];

const TEST_FILE = '\\.test\\.ts$';

/** `src/config` matches the folder's files, `src/service.ts` that one file. */
const pattern = (entry) => (entry.endsWith('.ts') ? `^${entry.replaceAll('.', '\\.')}$` : `^${entry}/`);
const anyOf = (entries) => `(${entries.map(pattern).join('|')})`;
const label = (entries) => entries.join(', ');

const layerRules = LAYERS.slice(0, -1).map((entries, i) => {
  const higher = LAYERS.slice(i + 1).flat();
  return {
    name: `layer-${i}`,
    severity: 'error',
    comment: `${label(entries)} (layer ${i}) may import only its own layer and lower ones, not ${label(higher)}`,
    from: { path: anyOf(entries), pathNot: TEST_FILE },
    to: { path: anyOf(higher) },
  };
});

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'an import cycle in src/: move the shared type or function to a module both can import',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'not-in-a-layer',
      severity: 'error',
      comment: `every module of src/ belongs to a layer: add its folder to LAYERS in .dependency-cruiser.mjs`,
      from: { path: '^src/', pathNot: [anyOf(LAYERS.flat()), TEST_FILE] },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'an import that resolves to no file: the checks above cannot see where it goes',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: `import type` cycles and layer breaks are the same design problem.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
