// Build step (`npm run build:bundle`, part of `npm run build`): bundles the compiled shim and daemon into one
// file each, so a process compiles and keeps one script instead of ~140 modules (see docs/shim.md, "Bundle").
//
//   dist/bundle/berth-shim.js   entry dist/shim/main.js       (bin/berth-shim runs it when present)
//   dist/bundle/berthd.js       entry dist/services/main.js   (bin/berthd runs it when present)
//
// Run after tsc (it bundles dist/, not the TypeScript). Native addons stay outside the bundle (koffi,
// better-sqlite3: they find their .node files relative to their own package), and so do modules loaded only on
// rare paths (execa: running an external OCI runtime binary, removing files through a helper): they come from
// node_modules when used and cost nothing otherwise. `long` is left out: we decode 64-bit integers as JS
// numbers (proto/loader.ts CONVERSION), for which protobufjs needs no Long class.
//
// Minification: whitespace and syntax only. Identifiers keep their names, so stack traces name our functions;
// an external source map (`<bundle>.map`, never loaded unless node runs with --enable-source-maps) maps lines
// back to dist/.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Resolves `long` to an empty module: protobufjs then uses its own LongBits and plain numbers. */
const noLong = {
  name: 'no-long',
  setup(b) {
    b.onResolve({ filter: /^long$/ }, () => ({ path: 'long', namespace: 'no-long' }));
    b.onLoad({ filter: /.*/, namespace: 'no-long' }, () => ({ contents: 'module.exports = null;', loader: 'js' }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'warning',
  plugins: [noLong],
  absWorkingDir: repo,
};

const bundles = [
  { entry: 'dist/shim/main.js', out: 'dist/bundle/berth-shim.js', external: ['koffi', 'execa', '@grpc/proto-loader'] },
  { entry: 'dist/services/main.js', out: 'dist/bundle/berthd.js', external: ['koffi', 'better-sqlite3', 'execa', '@grpc/proto-loader'] },
];

for (const b of bundles) {
  await build({ ...common, entryPoints: [b.entry], outfile: b.out, external: b.external });
}
