// Lint gate (`npm run lint`, run by .ci/run before the tests with --max-warnings 0): src/, examples/ and scripts/ with
// type-aware rules (the parser reads tsconfig.json through the project service), test/ with the lighter syntactic
// rules (last block).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // src/grpc/generated/ is written by `npm run generate:grpc` (proto-loader's generator), checked by a test, not by hand.
  { ignores: ['dist/**', 'node_modules/**', 'test-output/**', 'coverage/**', 'src/grpc/generated/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: {
      // An eslint-disable comment that no longer suppresses anything is itself a finding, so stale ones do not pile up.
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // require() is how this CommonJS build loads subcommands, optional codecs and bench/ lazily; each result is cast to its module's type.
      '@typescript-eslint/no-require-imports': 'off',
      // async methods without await implement Promise-returning interfaces: a synchronous throw then becomes a rejection, as callers expect.
      '@typescript-eslint/require-await': 'off',
      // A function longer than a screen does several things; split it, or say in one disable comment why it reads better whole.
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ['src/dicom/codecs.ts'],
    rules: {
      // itk-wasm is ESM only and TypeScript compiles import() to require() here, so the one dynamic import is built with new Function.
      '@typescript-eslint/no-implied-eval': 'off',
      // process.stdout.write/stderr.write are saved and put back around the GDCM call, never called detached.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // Tests: the recommended rules without type information (a lighter gate than src/'s; the type checker still runs
    // on them in `npm test`). The function-length limit is for src/: a test's long table of cases is not the issue.
    files: ['test/**/*.ts'],
    ...tseslint.configs.disableTypeChecked,
    rules: {
      ...tseslint.configs.disableTypeChecked.rules,
      // Tests read JSON bodies, metadata and other untyped answers whose shape the assertions themselves check.
      '@typescript-eslint/no-explicit-any': 'off',
      'max-lines-per-function': 'off',
    },
  },
);
