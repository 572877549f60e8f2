const { fakeApi } = require('../support/fake-api');
const f = require('../support/fixtures');
const storage = require('../../src/utils/storage');
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
  // A fresh session: the template ids the service remembers go with its module.
  let subscribe;
  let config;
  beforeEach(() => {
    jest.resetModules();
    config = require('../../src/config/index');
    subscribe = require('../../src/utils/subscribe');
  });

  function api(routes = {}) {
    return fakeApi({
      'GET /subscriptions': [200, f.consents()],
      'POST /subscriptions': (req) => [
        200,
        f.consents(Object.fromEntries(req.data.kinds.map((k) => [k, 1]))),
      ],
      ...routes,
    });
  }

  test('asks with the server’s template ids and records what was accepted', async () => {
    const calls = api();
    await subscribe.prepare();
    const { accepted, recorded } = await subscribe.ask(['booking_confirmed', 'visit_reminder']);
    expect(accepted).toEqual(['booking_confirmed', 'visit_reminder']);
    expect(wx.__fake.subscribeRequests[0]).toEqual([
      f.TEMPLATE_IDS.booking_confirmed,
      f.TEMPLATE_IDS.visit_reminder,
    ]);
    expect(calls.map((c) => c.key)).toEqual(['GET /subscriptions', 'POST /subscriptions']);
    expect(calls[1].data).toEqual({ kinds: ['booking_confirmed', 'visit_reminder'] });
    const after = await recorded;
    expect(after.find((c) => c.kind === 'visit_reminder').remaining).toBe(1);
  });

  test('reads the ids once while the app runs, and asks for at most 3 per prompt', async () => {
    const calls = api();
    await Promise.all([subscribe.prepare(), subscribe.prepare()]);
    await subscribe.prepare();
    expect(calls.filter((c) => c.key === 'GET /subscriptions')).toHaveLength(1);
    await subscribe.ask(subscribe.MOMENTS.pay.concat(subscribe.MOMENTS.cancel));
    expect(wx.__fake.subscribeRequests[0]).toEqual([
      f.TEMPLATE_IDS.booking_confirmed,
      f.TEMPLATE_IDS.visit_reminder,
      f.TEMPLATE_IDS.stop_clinic,
    ]);
  });

  test('records only the kinds accepted; a kind without a template is not asked for', async () => {
    const calls = api({
      'GET /subscriptions': [200, f.consents({}, { ...f.TEMPLATE_IDS, stop_clinic: null })],
    });
    await subscribe.prepare();
    wx.__fake.subscribeAnswer = (id) =>
      id === f.TEMPLATE_IDS.visit_reminder ? 'reject' : 'acceptWithAlert';
    const { accepted } = await subscribe.ask(subscribe.MOMENTS.pay);
    expect(wx.__fake.subscribeRequests[0]).toEqual([
      f.TEMPLATE_IDS.booking_confirmed,
      f.TEMPLATE_IDS.visit_reminder,
    ]);
    expect(accepted).toEqual(['booking_confirmed']);
    expect(calls[1].data).toEqual({ kinds: ['booking_confirmed'] });
  });

  test('no ids read yet: no prompt on this tap, they are read for the next one', async () => {
    const calls = api();
    await expect(subscribe.ask(['queue_called'])).resolves.toMatchObject({ accepted: [] });
    expect(wx.__fake.subscribeRequests).toHaveLength(0);
    await subscribe.prepare(); // the read the tap started
    expect(calls.map((c) => c.key)).toEqual(['GET /subscriptions']);
    await expect(subscribe.ask(['queue_called'])).resolves.toMatchObject({
      accepted: ['queue_called'],
    });
  });

  test('a refusal, a failed prompt or a failed record never rejects', async () => {
    const calls = api({
      'POST /subscriptions': [503, { code: 'service_unavailable', message: '服务暂不可用' }],
    });
    await subscribe.prepare();
    wx.__fake.subscribeAnswer = 'reject';
    await expect(subscribe.ask(['stop_clinic'])).resolves.toMatchObject({ accepted: [] });
    wx.__fake.subscribeAnswer = 'fail';
    await expect(subscribe.ask(['stop_clinic'])).resolves.toMatchObject({ accepted: [] });
    expect(calls.filter((c) => c.key === 'POST /subscriptions')).toHaveLength(0);
    wx.__fake.subscribeAnswer = 'accept';
    const { accepted, recorded } = await subscribe.ask(['stop_clinic']);
    expect(accepted).toEqual(['stop_clinic']);
    await expect(recorded).resolves.toBeNull();
  });

  test('a slow record holds the tap’s action back at most CONSENT_RECORD_WAIT_MS', async () => {
    api({ 'POST /subscriptions': () => new Promise(() => {}) });
    config.CONSENT_RECORD_WAIT_MS = 30;
    await subscribe.prepare();
    const started = Date.now();
    await expect(subscribe.ask(['queue_called'])).resolves.toMatchObject({
      accepted: ['queue_called'],
    });
    expect(Date.now() - started).toBeLessThan(1000);
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
