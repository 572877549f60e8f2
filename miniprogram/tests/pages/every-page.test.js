/**
 * Every page listed in app.json loads in the simulator (its WXML compiles, its JSON and
 * components resolve) and, when the API fails, shows a Chinese message instead of breaking.
 */
const fs = require('fs');
const path = require('path');
const { fakeApi } = require('../support/fake-api');
const { SRC, openPage, waitFor, text, find } = require('../support/pages');
const storage = require('../../src/utils/storage');

const app = JSON.parse(fs.readFileSync(path.join(SRC, 'app.json'), 'utf8'));
const PAGES = app.pages.concat(
  ...app.subPackages.map((pkg) => pkg.pages.map((page) => `${pkg.root}/${page}`)),
);

test('app.json lists the pages of every area', () => {
  expect(PAGES).toHaveLength(15);
});

describe.each(PAGES)('%s', (page) => {
  test('renders and survives a failing API', async () => {
    fakeApi({});
    const rendered = openPage(page, {
      id: '1',
      q: '咳嗽',
      schedule_id: '1',
      department_id: '1',
      date: '2026-12-04',
    });
    expect(rendered.dom).toBeTruthy();
    // The pay-result page keeps polling through failures (its own test covers that).
    const settledOrPolling = () => rendered.data.loading === false || wx.__fake.requests.length > 0;
    await waitFor(
      page.includes('pay-result') ? settledOrPolling : () => rendered.data.loading === false,
      3000,
      `${page} to settle`,
    );
    expect(text(rendered)).toMatch(/[\u4e00-\u9fff]/);
  });

  test('renders in 长辈模式 when it is on', () => {
    storage.setElder(true);
    fakeApi({});
    const rendered = openPage(page, { id: '1', q: '咳嗽' });
    expect(find(rendered, '.elder')).toBeTruthy();
  });
});
