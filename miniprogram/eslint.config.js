/** ESLint (flat config): the mini-program's sources, its tests and tools. */
const js = require('@eslint/js');
const globals = require('globals');

const MINIPROGRAM_GLOBALS = {
  wx: 'readonly',
  App: 'readonly',
  Page: 'readonly',
  Component: 'readonly',
  Behavior: 'readonly',
  getApp: 'readonly',
  getCurrentPages: 'readonly',
  require: 'readonly',
  module: 'writable',
  console: 'readonly',
  setTimeout: 'readonly',
  clearTimeout: 'readonly',
  setInterval: 'readonly',
  clearInterval: 'readonly',
};

module.exports = [
  { ignores: ['node_modules/**', 'src/miniprogram_npm/**', 'tools/ci/node_modules/**', 'docs/**'] },
  js.configs.recommended,
  { rules: { 'no-unused-vars': ['error', { caughtErrors: 'none' }] } },
  {
    files: ['src/**/*.js'],
    languageOptions: { ecmaVersion: 2020, sourceType: 'commonjs', globals: MINIPROGRAM_GLOBALS },
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'wx',
          property: 'request',
          message: 'Only services/request.js calls wx.request.',
        },
      ],
      eqeqeq: 'error',
      'no-var': 'error',
      'prefer-const': 'error',
    },
  },
  {
    files: ['src/services/request.js'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['tests/**/*.js', 'tools/**/*.js', '*.config.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'commonjs',
      globals: {
        ...globals.node,
        ...globals.jest,
        wx: 'writable',
        document: 'readonly',
        window: 'readonly',
      },
    },
  },
];
