/**
 * Every test file: the simulator's globals (Component, Behavior, wx), then fakes for the wx
 * APIs the mini-program uses, recorded so that tests can look at what a page asked for.
 */
require('miniprogram-simulate');
const { installWx } = require('./wx');
const { closeAll } = require('./pages');

beforeEach(() => {
  installWx();
});

afterEach(() => {
  closeAll();
});
