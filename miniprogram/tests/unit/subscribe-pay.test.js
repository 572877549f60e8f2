const { fakeApi } = require('../support/fake-api');
const storage = require('../../src/utils/storage');
const config = require('../../src/config/index');
const subscribe = require('../../src/utils/subscribe');
const { payOrder } = require('../../src/utils/pay');

const PARAMS = {
  timeStamp: '1700000000',
  nonceStr: 'n',
  package: 'prepay_id=wx1',
  signType: 'RSA',
  paySign: 's',
};

beforeEach(() => storage.setToken('t1'));

describe('utils/subscribe', () => {
  test('asks with the configured templates and records what was accepted', async () => {
    const calls = fakeApi({ 'POST /subscriptions': [201, {}] });
    await expect(subscribe.ask(['booking_confirmed', 'visit_reminder'])).resolves.toEqual([
      'booking_confirmed',
      'visit_reminder',
    ]);
    expect(wx.__fake.subscribeRequests[0]).toEqual([
      config.SUBSCRIBE_TEMPLATES.booking_confirmed,
      config.SUBSCRIBE_TEMPLATES.visit_reminder,
    ]);
    expect(calls[0]).toMatchObject({
      key: 'POST /subscriptions',
      data: { kinds: ['booking_confirmed', 'visit_reminder'] },
    });
  });

  test('records nothing when refused, and shrugs off a server without the endpoint', async () => {
    wx.__fake.subscribeAnswer = 'reject';
    const calls = fakeApi({});
    await expect(subscribe.ask(['stop_clinic'])).resolves.toEqual([]);
    expect(calls).toHaveLength(0);
    wx.__fake.subscribeAnswer = 'accept';
    await expect(subscribe.ask(['stop_clinic'])).resolves.toEqual([]);
    expect(calls[0].key).toBe('POST /subscriptions');
  });
});

describe('utils/pay', () => {
  test('passes the server’s parameters to wx.requestPayment', async () => {
    const calls = fakeApi({
      'POST /orders/9/payments': [200, { channel: 'wechat', out_trade_no: 'T9', params: PARAMS }],
    });
    await expect(payOrder(9)).resolves.toBe('paid');
    expect(calls[0].data).toEqual({ channel: 'wechat' });
    expect(wx.__fake.payments[0]).toMatchObject(PARAMS);
  });

  test('a closed cashier is "cancelled", a failure rejects', async () => {
    fakeApi({ 'POST /orders/9/payments': [200, { params: PARAMS }] });
    wx.__fake.paymentResult = { errMsg: 'requestPayment:fail cancel' };
    await expect(payOrder(9)).resolves.toBe('cancelled');
    wx.__fake.paymentResult = { errMsg: 'requestPayment:fail system error' };
    await expect(payOrder(9)).rejects.toThrow('system error');
  });

  test('a refused payment request rejects with the server’s message', async () => {
    fakeApi({
      'POST /orders/9/payments': [409, { code: 'order_not_payable', message: '订单已不能支付' }],
    });
    await expect(payOrder(9)).rejects.toMatchObject({ message: '订单已不能支付' });
    expect(wx.__fake.payments).toHaveLength(0);
  });
});

describe('against make run’s sandbox (develop)', () => {
  beforeEach(() => {
    wx.getAccountInfoSync = () => ({ miniProgram: { envVersion: 'develop' } });
  });

  test('signs in with a code of the WeChat stand-in for this phone’s own openid', async () => {
    storage.clearToken();
    const calls = [];
    wx.__fake.requestHandler = (options) => {
      const url = new URL(options.url);
      calls.push({ path: url.pathname, data: options.data });
      const answers = {
        '/sandbox/wechat/login-code': { code: 'sandbox-code' },
        '/api/v1/auth/wechat': { token: 'dev-token' },
        '/api/v1/me': { id: 1 },
      };
      Promise.resolve().then(() =>
        options.success({ statusCode: 200, data: answers[url.pathname] }),
      );
      return { abort() {} };
    };
    const { get } = require('../../src/services/request');
    await expect(get('/me')).resolves.toEqual({ id: 1 });
    expect(calls.map((c) => c.path)).toEqual([
      '/sandbox/wechat/login-code',
      '/api/v1/auth/wechat',
      '/api/v1/me',
    ]);
    expect(calls[0].data.openid).toMatch(/^o_devtools_/);
    expect(calls[1].data).toEqual({ code: 'sandbox-code' });
    expect(wx.getStorageSync('sandbox.openid')).toBe(calls[0].data.openid);
  });

  test('pays through the WeChat Pay stand-in after the patient confirms', async () => {
    const calls = fakeApi({
      'POST /orders/9/payments': [200, { out_trade_no: 'T9', params: PARAMS }],
    });
    wx.__fake.requestHandler = ((handler) => (options) => {
      if (options.url.includes('/sandbox/wechatpay/pay')) {
        calls.push({ key: 'sandbox pay', data: options.data });
        Promise.resolve().then(() =>
          options.success({ statusCode: 200, data: { notified: true } }),
        );
        return { abort() {} };
      }
      return handler(options);
    })(wx.__fake.requestHandler);
    await expect(payOrder(9, 5000)).resolves.toBe('paid');
    expect(wx.__fake.modals[0].content).toContain('¥50.00');
    expect(calls[1]).toEqual({ key: 'sandbox pay', data: { out_trade_no: 'T9' } });
    expect(wx.__fake.payments).toHaveLength(0);
  });
});
