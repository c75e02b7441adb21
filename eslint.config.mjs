// Lint gate for src/ (`npm run lint`, run by .ci/run before the tests with --max-warnings 0).
// Type-aware rules need the program, so the parser reads tsconfig.json (which covers src/, test/, bench/ and examples/).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-output/**', 'coverage/**'] },
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
);
