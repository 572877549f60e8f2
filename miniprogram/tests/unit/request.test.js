const { fakeApi } = require('../support/fake-api');
const config = require('../../src/config/index');
const storage = require('../../src/utils/storage');
const api = require('../../src/services/request');

const LOGIN = [
  200,
  { token: 'fresh-token', token_type: 'Bearer', created: false, account: { id: 1 } },
];

describe('services/request', () => {
  test('calls the develop origin with the bearer token and resolves the body', async () => {
    wx.getAccountInfoSync = () => ({ miniProgram: { envVersion: 'develop' } });
    storage.setToken('t1');
    const calls = fakeApi({ 'GET /me': [200, { id: 1 }] });
    await expect(api.get('/me')).resolves.toEqual({ id: 1 });
    expect(wx.__fake.requests[0].url).toBe(`${config.API_BASE.develop}/api/v1/me`);
    expect(calls[0].header.Authorization).toBe('Bearer t1');
  });

  test('picks the origin by the environment version', async () => {
    wx.getAccountInfoSync = () => ({ miniProgram: { envVersion: 'release' } });
    fakeApi({ 'GET /hospitals': [200, { items: [] }] });
    await api.get('/hospitals', undefined, { auth: false });
    expect(wx.__fake.requests[0].url).toBe(`${config.API_BASE.release}/api/v1/hospitals`);
    expect(wx.__fake.requests[0].header.Authorization).toBeUndefined();
  });

  test('signs in with wx.login first when there is no token, once for concurrent calls', async () => {
    const calls = fakeApi({ 'POST /auth/wechat': LOGIN, 'GET /patients': [200, { items: [] }] });
    await Promise.all([api.get('/patients'), api.get('/patients')]);
    expect(calls.filter((c) => c.key === 'POST /auth/wechat')).toHaveLength(1);
    expect(calls.find((c) => c.key === 'POST /auth/wechat').data).toEqual({
      code: 'unit-test-code',
    });
    expect(storage.getToken()).toBe('fresh-token');
  });

  test('on a 401 signs in again silently, once, and retries', async () => {
    storage.setToken('expired');
    const calls = fakeApi({
      'POST /auth/wechat': LOGIN,
      'GET /me': (req) =>
        req.header.Authorization === 'Bearer fresh-token'
          ? [200, { id: 1 }]
          : [401, { code: 'unauthorized', message: '请先登录' }],
    });
    await expect(api.get('/me')).resolves.toEqual({ id: 1 });
    expect(calls.map((c) => c.key)).toEqual(['GET /me', 'POST /auth/wechat', 'GET /me']);
  });

  test('a second 401 is an error, not a loop', async () => {
    storage.setToken('expired');
    const calls = fakeApi({
      'POST /auth/wechat': LOGIN,
      'GET /me': [401, { code: 'unauthorized', message: '请先登录' }],
    });
    await expect(api.get('/me')).rejects.toMatchObject({
      status: 401,
      code: 'unauthorized',
      message: '请先登录',
    });
    expect(calls.filter((c) => c.key === 'POST /auth/wechat')).toHaveLength(1);
  });

  test('turns the error envelope into an ApiError with the server’s message', async () => {
    storage.setToken('t1');
    fakeApi({
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
    const err = await api.post('/patients', {}).catch((e) => e);
    expect(err).toBeInstanceOf(api.ApiError);
    expect(err).toMatchObject({
      status: 422,
      code: 'invalid_id_number',
      message: '身份证号码校验位错误',
    });
    expect(err.errors).toEqual({ id_number: ['身份证号码校验位错误'] });
    expect(err.body.reason).toBe('checksum');
    expect(api.messageOf(err)).toBe('身份证号码校验位错误');
  });

  test('an answer without the envelope gets a generic Chinese message', async () => {
    fakeApi({ 'GET /hospitals': [502, '<html>Bad Gateway</html>'] });
    await expect(api.get('/hospitals', undefined, { auth: false })).rejects.toMatchObject({
      status: 502,
      code: 'http_error',
      message: api.MESSAGES.server,
    });
  });

  test('a 204 resolves null', async () => {
    storage.setToken('t1');
    fakeApi({ 'POST /auth/logout': [204, undefined] });
    await expect(api.post('/auth/logout')).resolves.toBeNull();
  });

  test('gives up after the timeout and aborts the request', async () => {
    jest.useFakeTimers();
    let aborted = false;
    wx.__fake.requestHandler = () => ({
      abort() {
        aborted = true;
      },
    });
    const pending = api.get('/hospitals', undefined, { auth: false });
    jest.advanceTimersByTime(config.REQUEST_TIMEOUT_MS);
    await expect(pending).rejects.toMatchObject({
      code: 'timeout',
      message: '网络超时，请稍后重试',
    });
    expect(aborted).toBe(true);
    jest.useRealTimers();
  });

  test('a platform timeout and a network failure have their own messages', async () => {
    fakeApi({ 'GET /a': ['network', 'timeout'], 'GET /b': ['network', 'connection refused'] });
    await expect(api.get('/a', undefined, { auth: false })).rejects.toMatchObject({
      code: 'timeout',
    });
    await expect(api.get('/b', undefined, { auth: false })).rejects.toMatchObject({
      code: 'network_error',
      message: '网络连接失败，请检查网络后重试',
    });
  });

  test('a failing wx.login is a login error', async () => {
    wx.__fake.loginCode = () => Promise.reject(new Error('no'));
    fakeApi({});
    await expect(api.get('/me')).rejects.toMatchObject({
      code: 'login_failed',
      message: '登录失败，请稍后重试',
    });
  });
});
