/**
 * Paying an order in the mini-program: the server gives the wx.requestPayment parameters
 * (JSAPI prepay); whatever the client callback says, only the server's order status counts,
 * so the pay-result page polls GET /orders/{id}.
 */

const orders = require('../services/orders');
const api = require('../services/request');
const { yuan } = require('./format');

/** Against `make run` WeChat's cashier cannot pay a local prepay: the Pay stand-in does. */
function sandboxPay(payment, amountFen) {
  return new Promise((resolve, reject) => {
    wx.showModal({
      title: '沙箱支付',
      content: `开发环境：由本地微信支付沙箱代为支付 ${yuan(amountFen)}`,
      success: (res) => {
        if (!res.confirm) {
          resolve('cancelled');
          return;
        }
        api
          .sandbox('/wechatpay/pay', { out_trade_no: payment.out_trade_no })
          .then(() => resolve('paid'), reject);
      },
      fail: () => resolve('cancelled'),
    });
  });
}

/**
 * Start paying order `id`. Resolves 'paid' when WeChat's cashier reports success (still to be
 * confirmed by the server), 'cancelled' when the patient closed it; rejects ApiError or a
 * failure with its errMsg.
 */
async function payOrder(id, amountFen = 0) {
  const payment = await orders.createPayment(id);
  if (api.sandboxEnabled()) return sandboxPay(payment, amountFen);
  const params = payment.params;
  return new Promise((resolve, reject) => {
    wx.requestPayment({
      timeStamp: params.timeStamp,
      nonceStr: params.nonceStr,
      package: params.package,
      signType: params.signType,
      paySign: params.paySign,
      success: () => resolve('paid'),
      fail: (err) => {
        if (/cancel/i.test((err && err.errMsg) || '')) resolve('cancelled');
        else reject(new Error((err && err.errMsg) || 'requestPayment:fail'));
      },
    });
  });
}

module.exports = { payOrder };
