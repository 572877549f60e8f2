/** Loading pages in the simulator, as WeChat would open them, and waiting for them to settle. */
const path = require('path');
const simulate = require('miniprogram-simulate');

const SRC = path.resolve(__dirname, '../../src');
const opened = [];

/**
 * Open 'pages/home/index' (or '/packages/…?a=1'): render, attach, onLoad(query), onShow.
 * options.config overrides settings of src/config for this page (e.g. a faster poll).
 */
function openPage(address, query = {}, options = {}) {
  const [pagePath, search] = address.replace(/^\//, '').split('?');
  const params = Object.assign({}, query);
  if (search) {
    for (const [key, value] of new URLSearchParams(search)) params[key] = value;
  }
  // The simulator require()s the page's JS; a fresh registry makes it run (and register) again.
  jest.resetModules();
  if (options.config) {
    const config = require(path.join(SRC, 'config/index'));
    Object.keys(options.config).forEach((key) => {
      const value = options.config[key];
      config[key] = typeof value === 'object' ? { ...config[key], ...value } : value;
    });
  }
  const id = simulate.load(path.join(SRC, pagePath), { rootPath: SRC });
  const page = simulate.render(id);
  page.attach(document.createElement('parent-wrapper'));
  opened.push(page);
  if (page.instance.onLoad) page.instance.onLoad(params);
  if (page.instance.onShow) page.instance.onShow();
  return page;
}

/** Unload every page a test opened, so no timer outlives it (WeChat calls onUnload too). */
function closeAll() {
  while (opened.length) {
    const page = opened.pop();
    if (page.instance.onUnload) page.instance.onUnload();
    page.detach();
  }
}

/** Poll `check` every 10 ms until it returns truthy; fail after `timeout` ms. */
async function waitFor(check, timeout = 3000, what = 'condition') {
  const until = Date.now() + timeout;
  let last;
  while (Date.now() < until) {
    try {
      last = check();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    await simulate.sleep(10);
  }
  throw new Error(
    `timed out waiting for ${what}` + (last instanceof Error ? `: ${last.message}` : ''),
  );
}

/** Wait until the page's first load is over (loading false). */
function settled(page, timeout) {
  return waitFor(() => page.data.loading === false, timeout, 'the page to load');
}

/** The rendered text of the page (or of the first element matching `selector`). */
function text(page, selector) {
  const node = selector ? find(page, selector) : page;
  if (!node) throw new Error(`nothing matches ${selector}`);
  return node.dom.textContent.replace(/\s+/g, ' ');
}

/** The first element matching `selector`; 'a >>> b' looks for b inside custom component a. */
function find(page, selector) {
  return selector.split(' >>> ').reduce((node, part) => node && node.querySelector(part), page);
}

/** Tap the first element matching `selector` and let the handler run. */
async function tap(page, selector) {
  const node = find(page, selector);
  if (!node) throw new Error(`nothing matches ${selector}`);
  node.dispatchEvent('tap');
  await simulate.sleep(0);
  await simulate.sleep(0);
}

/** Tap the element matching `selector` whose text contains `words`. */
async function tapText(page, selector, words) {
  const node = page.querySelectorAll(selector).find((n) => n.dom.textContent.includes(words));
  if (!node) throw new Error(`no ${selector} says ${words}`);
  node.dispatchEvent('tap');
  await simulate.sleep(0);
  await simulate.sleep(0);
}

/** Type `value` into the input matching `selector` (an input event, as WeChat sends it). */
async function type(page, selector, value) {
  const node = find(page, selector);
  if (!node) throw new Error(`nothing matches ${selector}`);
  node.dispatchEvent('input', { detail: { value } });
  await simulate.sleep(0);
  await simulate.sleep(0);
}

/** The last navigation a page asked for. */
function lastNavigation() {
  const list = wx.__fake.navigations;
  return list[list.length - 1];
}

module.exports = {
  SRC,
  find,
  openPage,
  closeAll,
  waitFor,
  settled,
  text,
  tap,
  tapText,
  type,
  lastNavigation,
};
