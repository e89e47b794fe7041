import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.ocp-data/', 'dist/', 'src/portal/dist/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      // Configuration is read in exactly one module (src/platform/config.ts).
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Read configuration through src/platform/config.ts.',
        },
      ],
    },
  },
  {
    files: [
      'src/platform/config.ts',
      'src/**/*.test.ts',
      'src/platform/testing/**',
      'scripts/**',
      'bench/**',
    ],
    rules: { 'no-restricted-properties': 'off' },
  },
);
