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
