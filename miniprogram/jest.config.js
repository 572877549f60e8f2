/** jest: pages render in jsdom through miniprogram-simulate; e2e journeys run the real backend. */
module.exports = {
  testEnvironment: 'jsdom',
  roots: ['<rootDir>/tests'],
  setupFilesAfterEnv: ['<rootDir>/tests/support/setup.js'],
  testTimeout: 10000,
  maxWorkers: 2,
  verbose: false,
};
