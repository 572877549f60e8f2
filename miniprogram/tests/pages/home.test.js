const { fakeApi } = require('../support/fake-api');
const { openPage, settled, text, tap, lastNavigation } = require('../support/pages');
const storage = require('../../src/utils/storage');

const HOSPITAL = {
  id: 1,
  name: '京华第一人民医院',
  level: '3A',
  level_name: '三级甲等',
  region: '北京市',
  district: '西城区',
  address: '复兴门内大街 101 号',
};

describe('home page', () => {
  test('lists hospitals and opens one', async () => {
    fakeApi({ 'GET /hospitals': [200, { items: [HOSPITAL], page: 1, per_page: 20, total: 1 }] });
    const page = openPage('pages/home/index');
    expect(page.data.loading).toBe(true);
    expect(text(page)).toContain('加载中');
    await settled(page);
    expect(text(page, '.hospital')).toContain('京华第一人民医院');
    expect(text(page, '.hospital')).toContain('三级甲等');
    await tap(page, '.hospital');
    expect(lastNavigation().url).toBe('/packages/booking/pages/hospital/index?id=1');
  });

  test('shows the empty state', async () => {
    fakeApi({ 'GET /hospitals': [200, { items: [], page: 1, per_page: 20, total: 0 }] });
    const page = openPage('pages/home/index');
    await settled(page);
    expect(text(page)).toContain('暂无医院');
  });

  test('shows the server message on error and retries', async () => {
    let fail = true;
    fakeApi({
      'GET /hospitals': () =>
        fail
          ? [503, { code: 'service_unavailable', message: '服务繁忙，请稍后再试' }]
          : [200, { items: [HOSPITAL], page: 1, per_page: 20, total: 1 }],
    });
    const page = openPage('pages/home/index');
    await settled(page);
    expect(text(page)).toContain('服务繁忙，请稍后再试');
    fail = false;
    await tap(page, '.state-view >>> .state-retry');
    await settled(page);
    expect(text(page)).toContain('京华第一人民医院');
  });

  test('searches by symptom and reopens a recent department', async () => {
    fakeApi({ 'GET /hospitals': [200, { items: [], page: 1, per_page: 20, total: 0 }] });
    storage.rememberVisit({
      id: 7,
      name: '儿科',
      hospital_id: 1,
      hospital_name: '京华第一人民医院',
    });
    const page = openPage('pages/home/index');
    await settled(page);
    await tap(page, '.chip');
    expect(lastNavigation().url).toBe('/pages/search/index?q=' + encodeURIComponent('咳嗽'));
    expect(text(page, '.recent')).toContain('儿科');
    await tap(page, '.recent');
    expect(lastNavigation().url).toContain('/packages/booking/pages/department/index?id=7');
  });

  test('elder mode enlarges the page and hides the symptom chips', async () => {
    fakeApi({ 'GET /hospitals': [200, { items: [HOSPITAL], page: 1, per_page: 20, total: 1 }] });
    storage.setElder(true);
    const page = openPage('pages/home/index');
    await settled(page);
    expect(page.querySelector('.elder')).toBeTruthy();
    expect(page.querySelector('.chip')).toBeFalsy();
  });
});
