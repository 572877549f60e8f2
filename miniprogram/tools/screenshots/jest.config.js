/** jest for `make miniprogram-screenshots`: renders main pages to HTML (not part of the tests). */
const path = require('path');

module.exports = {
  rootDir: path.resolve(__dirname, '../..'),
  testEnvironment: 'jsdom',
  roots: ['<rootDir>/tools/screenshots'],
  testMatch: ['**/render.test.js'],
  setupFilesAfterEnv: ['<rootDir>/tests/support/setup.js'],
};
