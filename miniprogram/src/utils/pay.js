/**
 * Paying an order in the mini-program: the server gives the wx.requestPayment parameters
 * (JSAPI prepay); whatever the client callback says, only the server's order status counts,
 * so the pay-result page polls GET /orders/{id}.
 */

const orders = require('../services/orders');

/**
 * Start paying order `id`. Resolves 'paid' when WeChat's cashier reports success (still to be
 * confirmed by the server), 'cancelled' when the patient closed it; rejects ApiError or a
 * failure with its errMsg.
 */
async function payOrder(id) {
  const payment = await orders.createPayment(id);
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
