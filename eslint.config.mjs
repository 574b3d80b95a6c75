// Lint: TypeScript rules plus the import table of shared/DESIGN.md ("who may import whom").
import tseslint from 'typescript-eslint';

const folders = ['proto', 'pkg', 'native', 'shim', 'services', 'ctr'];
// What each folder may import, besides itself and npm packages.
const allowed = {
  proto: [],
  pkg: ['proto'],
  native: ['pkg'],
  shim: ['native', 'pkg', 'proto'],
  services: ['pkg', 'proto'],
  ctr: ['pkg', 'proto'],
};

function restrictionsFor(folder) {
  const forbidden = folders.filter((f) => f !== folder && !allowed[folder].includes(f));
  return {
    files: [`${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: forbidden.map((f) => ({
            // proto/gen/containerd/services/... are generated proto types, not the services/ folder.
            group: [`**/${f}/**`, `**/${f}`, `../${f}`, `../../${f}`, '!**/proto/gen/**'],
            message: `${folder}/ may not import ${f}/ (see shared/DESIGN.md import table)`,
          })),
        },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'proto/gen/**', 'native/init/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  ...folders.map(restrictionsFor),
  {
    // Only the syscall seam may bind libc.
    files: ['**/*.ts'],
    ignores: ['native/sys/linux.ts'],
    rules: { 'no-restricted-syntax': ['error', { selector: "ImportDeclaration[source.value='koffi']", message: 'only native/sys/linux.ts imports koffi' }] },
  },
);
