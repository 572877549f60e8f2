const { fakeApi } = require('../support/fake-api');
const {
  openPage,
  settled,
  waitFor,
  text,
  tap,
  type,
  find,
  lastNavigation,
} = require('../support/pages');
const f = require('../support/fixtures');
const storage = require('../../src/utils/storage');

beforeEach(() => storage.setToken('t1'));

describe('family list page', () => {
  test('shows members with masked IDs and deletes one after confirming', async () => {
    let list = [f.selfPatient, f.patient];
    const calls = fakeApi({
      'GET /patients': () => [200, f.page(list)],
      'DELETE /patients/31': () => {
        list = [f.selfPatient];
        return [204, undefined];
      },
    });
    const page = openPage('packages/family/pages/list/index');
    await settled(page);
    expect(page.querySelectorAll('.patient')).toHaveLength(2);
    expect(text(page)).toContain('1*************0011');
    expect(text(page)).not.toMatch(/\d{17}[\dX]/);
    expect(text(page, '.add')).toContain('2/5');
    page.querySelectorAll('.delete')[1].dispatchEvent('tap');
    await waitFor(() => page.data.patients.length === 1);
    expect(wx.__fake.modals[0].content).toContain('王小明');
    expect(calls.some((c) => c.key === 'DELETE /patients/31')).toBe(true);
  });

  test('shows each age, and for a birth date on file after today how to correct it', async () => {
    fakeApi({ 'GET /patients': [200, f.page([f.selfPatient, { ...f.patient, age: null }])] });
    const page = openPage('packages/family/pages/list/index');
    await settled(page);
    const ages = page.querySelectorAll('.patient-age').map((n) => n.dom.textContent);
    expect(ages[0]).toContain(`${f.selfPatient.age}岁`);
    expect(ages[1]).toContain('出生日期有误，请删除后重新添加');
    expect(ages[1]).not.toContain('岁');
  });

  test('stops at five members', async () => {
    fakeApi({
      'GET /patients': [200, f.page([1, 2, 3, 4, 5].map((id) => ({ ...f.patient, id })))],
    });
    const page = openPage('packages/family/pages/list/index');
    await settled(page);
    await tap(page, '.add');
    expect(wx.__fake.toasts).toContain('最多添加 5 位就诊人');
    expect(wx.__fake.navigations).toHaveLength(0);
  });

  test('shows the empty state', async () => {
    fakeApi({ 'GET /patients': [200, f.page([])] });
    const page = openPage('packages/family/pages/list/index');
    await settled(page);
    expect(text(page)).toContain('还没有就诊人');
    await tap(page, '.add');
    expect(lastNavigation().url).toBe('/packages/family/pages/edit/index');
  });
});

describe('family edit page', () => {
  test('checks what it can, then shows the server’s invalid_id_number by the field', async () => {
    const calls = fakeApi({
      'POST /patients': [
        422,
        {
          code: 'invalid_id_number',
          message: '身份证号码校验位错误',
          reason: 'checksum',
          errors: { id_number: ['身份证号码校验位错误'] },
        },
      ],
    });
    const page = openPage('packages/family/pages/edit/index');
    await settled(page);
    await tap(page, '.save');
    expect(text(page, '.name-error')).toContain('请填写真实姓名');
    expect(text(page, '.id-error')).toContain('请填写证件号码');
    expect(calls).toHaveLength(0);
    await type(page, '.name-input', '王小明');
    await type(page, '.id-input', '11010120180501001x');
    await type(page, '.phone-input', '123');
    await tap(page, '.save');
    expect(text(page, '.phone-error')).toContain('11 位手机号');
    await type(page, '.phone-input', '13800138000');
    find(page, '.relationship-picker').dispatchEvent('change', { detail: { value: 1 } });
    await tap(page, '.save');
    await waitFor(() => page.data.errors.id_number);
    expect(calls[0].data).toEqual({
      name: '王小明',
      relationship: 'child',
      insured: false,
      phone: '13800138000',
      id_type: 'resident_id',
      id_number: '11010120180501001X',
    });
    expect(text(page, '.id-error')).toContain('身份证号码校验位错误');
  });

  test('the birth date picker ends today in China, after UTC midnight too', async () => {
    // 01:00 on 5 December in China is still 4 December in UTC; only Date is faked.
    jest.useFakeTimers({
      now: new Date('2026-12-04T17:00:00Z'),
      doNotFake: [
        'setTimeout',
        'clearTimeout',
        'setInterval',
        'clearInterval',
        'setImmediate',
        'clearImmediate',
        'nextTick',
        'queueMicrotask',
        'hrtime',
        'performance',
      ],
    });
    try {
      fakeApi({});
      const page = openPage('packages/family/pages/edit/index');
      await settled(page);
      expect(page.data.today).toBe('2026-12-05');
    } finally {
      jest.useRealTimers();
    }
  });

  test('other documents need sex and birth date; validation errors land by their fields', async () => {
    const calls = fakeApi({
      'POST /patients': [
        422,
        {
          code: 'validation_error',
          message: '请求参数有误',
          errors: { birth_date: ['请填写出生日期'] },
        },
      ],
    });
    const page = openPage('packages/family/pages/edit/index');
    await settled(page);
    find(page, '.id-type-picker').dispatchEvent('change', { detail: { value: 1 } });
    await waitFor(() => find(page, '.sex-picker'));
    find(page, '.sex-picker').dispatchEvent('change', { detail: { value: 1 } });
    await type(page, '.name-input', 'Anna Smith');
    await type(page, '.id-input', 'E12345678');
    await tap(page, '.save');
    await waitFor(() => page.data.formError);
    expect(calls[0].data).toMatchObject({ id_type: 'passport', sex: 'female' });
    expect(page.data.errors.birth_date).toBe('请填写出生日期');
    expect(text(page, '.form-error')).toContain('请求参数有误');
  });

  test('edits a member without touching the document, then goes back', async () => {
    const calls = fakeApi({
      'GET /patients/31': [200, f.patient],
      'PATCH /patients/31': [200, { ...f.patient, name: '王小明明' }],
    });
    const page = openPage('packages/family/pages/edit/index', { id: '31' });
    await settled(page);
    expect(text(page, '.masked')).toContain('居民身份证 1*************0011');
    expect(find(page, '.id-input')).toBeFalsy();
    await type(page, '.name-input', '王小明明');
    await tap(page, '.save');
    await waitFor(() => lastNavigation() && lastNavigation().kind === 'navigateBack');
    expect(calls[1]).toMatchObject({
      key: 'PATCH /patients/31',
      data: { name: '王小明明', relationship: 'child' },
    });
  });
});

describe('me page', () => {
  const ACCOUNT = {
    id: 1,
    nickname: '',
    phone_masked: null,
    has_phone: false,
    has_wechat: true,
    status: 'active',
  };

  test('binds the phone from the getPhoneNumber button', async () => {
    const calls = fakeApi({
      'GET /me': [200, ACCOUNT],
      'POST /auth/phone': [200, { ...ACCOUNT, has_phone: true, phone_masked: '138****8000' }],
    });
    const page = openPage('pages/me/index');
    await settled(page);
    expect(text(page, '.account')).toContain('绑定手机号');
    find(page, '.bind-phone').dispatchEvent('getphonenumber', { detail: { code: 'phone-code-1' } });
    await waitFor(() => page.data.account.has_phone);
    expect(calls[1]).toMatchObject({ key: 'POST /auth/phone', data: { code: 'phone-code-1' } });
    expect(text(page, '.phone')).toContain('138****8000');
  });

  test('a refused phone prompt binds nothing; a taken number shows the server’s words', async () => {
    const calls = fakeApi({
      'GET /me': [200, ACCOUNT],
      'POST /auth/phone': [409, { code: 'phone_in_use', message: '该手机号已绑定其他账号' }],
    });
    const page = openPage('pages/me/index');
    await settled(page);
    find(page, '.bind-phone').dispatchEvent('getphonenumber', {
      detail: { errMsg: 'getPhoneNumber:fail user deny' },
    });
    await waitFor(() => wx.__fake.toasts.length);
    expect(calls).toHaveLength(1);
    find(page, '.bind-phone').dispatchEvent('getphonenumber', { detail: { code: 'c2' } });
    await waitFor(() => wx.__fake.toasts.includes('该手机号已绑定其他账号'));
  });

  test('switches elder mode on and remembers it', async () => {
    fakeApi({ 'GET /me': [200, ACCOUNT] });
    const page = openPage('pages/me/index');
    await settled(page);
    expect(find(page, '.elder')).toBeFalsy();
    find(page, '.elder-switch').dispatchEvent('change', { detail: { value: true } });
    await waitFor(() => find(page, '.elder'));
    expect(storage.isElder()).toBe(true);
    expect(wx.__fake.toasts).toContain('已开启长辈模式');
  });

  test('logs out after confirming', async () => {
    const calls = fakeApi({ 'GET /me': [200, ACCOUNT], 'POST /auth/logout': [204, undefined] });
    const page = openPage('pages/me/index');
    await settled(page);
    await tap(page, '.logout');
    await waitFor(() => page.data.signedOut);
    expect(calls[1].key).toBe('POST /auth/logout');
    expect(storage.getToken()).toBe('');
    expect(text(page)).toContain('您已退出登录');
  });
});

describe('settings page', () => {
  test('shows each kind by the server’s name with its grants, and asks for one more on a tap', async () => {
    let granted = 0;
    const calls = fakeApi({
      'GET /subscriptions': () => [200, f.consents({ visit_reminder: granted })],
      'POST /subscriptions': () => {
        granted += 1;
        return [200, f.consents({ visit_reminder: granted })];
      },
    });
    const page = openPage('packages/me/pages/settings/index');
    await settled(page);
    const kinds = page.querySelectorAll('.kind');
    expect(kinds).toHaveLength(5);
    expect(text(kinds[0])).toContain('预约成功通知');
    expect(text(kinds[4])).toContain('叫号提醒');
    expect(text(kinds[1])).toContain('剩余 0 次');
    expect(wx.__fake.subscribeRequests).toHaveLength(0);
    page.querySelectorAll('.subscribe')[1].dispatchEvent('tap');
    await waitFor(() => wx.__fake.toasts.includes('已开启提醒'));
    expect(wx.__fake.subscribeRequests[0]).toEqual([f.TEMPLATE_IDS.visit_reminder]);
    expect(calls.find((c) => c.key === 'POST /subscriptions').data).toEqual({
      kinds: ['visit_reminder'],
    });
    // The POST's answer is the new list: no second read.
    expect(calls.filter((c) => c.key === 'GET /subscriptions')).toHaveLength(1);
    expect(text(page.querySelectorAll('.kind')[1])).toContain('剩余 1 次');
  });

  test('a refused prompt records nothing; a kind without a template cannot be asked for', async () => {
    const calls = fakeApi({
      'GET /subscriptions': [200, f.consents({}, { ...f.TEMPLATE_IDS, queue_called: null })],
    });
    const page = openPage('packages/me/pages/settings/index');
    await settled(page);
    expect(page.querySelectorAll('.subscribe')).toHaveLength(4);
    expect(text(page.querySelectorAll('.kind')[4])).toContain('暂未开通');
    wx.__fake.subscribeAnswer = 'reject';
    page.querySelectorAll('.subscribe')[0].dispatchEvent('tap');
    await waitFor(() => wx.__fake.toasts.includes('未开启提醒'));
    expect(calls.map((c) => c.key)).toEqual(['GET /subscriptions']);
  });

  test('a failed read says so with a retry, and leaves closing the account usable', async () => {
    let fail = true;
    fakeApi({
      'GET /subscriptions': () =>
        fail
          ? [503, { code: 'service_unavailable', message: '服务暂时不可用' }]
          : [200, f.consents()],
    });
    const page = openPage('packages/me/pages/settings/index');
    await settled(page);
    expect(text(page, '.consent-error')).toContain('服务暂时不可用');
    expect(page.data.error).toBe('');
    expect(find(page, '.delete-account')).toBeTruthy();
    fail = false;
    await tap(page, '.retry');
    await waitFor(() => page.data.kinds.length === 5);
    expect(find(page, '.consent-error')).toBeFalsy();
  });

  test('closes the account after confirming, then starts over at home', async () => {
    const calls = fakeApi({
      'GET /subscriptions': [200, f.consents()],
      'DELETE /me': [204, undefined],
    });
    const page = openPage('packages/me/pages/settings/index');
    await settled(page);
    await tap(page, '.delete-account');
    await waitFor(() => lastNavigation() && lastNavigation().kind === 'reLaunch');
    expect(wx.__fake.modals[0].title).toBe('注销账号');
    expect(calls.map((c) => c.key)).toContain('DELETE /me');
    expect(storage.getToken()).toBe('');
    expect(lastNavigation().url).toBe('/pages/home/index');
  });
});
