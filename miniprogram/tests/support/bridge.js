/**
 * The end-to-end journeys' wx: wx.request goes over loopback HTTP to the backend (jsdom has no
 * fetch; Content-Length is set because the backend cannot read chunked bodies), wx.login asks
 * the WeChat stand-in for a code, wx.requestPayment has the WeChat Pay stand-in pay, and what
 * the patient accepts in wx.requestSubscribeMessage is recorded at the WeChat stand-in, as
 * WeChat records it.
 */
const http = require('http');

/** One HTTP exchange with the backend: resolves {statusCode, data}. */
function call(backend, method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined || body === null ? '' : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port: backend.port,
        method,
        path: urlPath,
        headers: {
          ...headers,
          ...(payload ? { 'Content-Type': 'application/json' } : {}),
          'Content-Length': Buffer.byteLength(payload),
        },
        timeout: 15000,
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let data = text;
          try {
            data = text ? JSON.parse(text) : '';
          } catch (err) {
            // Not JSON: hand the text over as wx.request does.
          }
          resolve({ statusCode: res.statusCode, data, header: res.headers });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Route the wrapper's wx.request to the backend, whatever origin the config names. */
function installBridge(backend, { openid }) {
  const fake = wx.__fake;
  fake.requestHandler = (options) => {
    const url = new URL(options.url);
    let target = url.pathname + url.search;
    let body = options.data;
    const method = (options.method || 'GET').toUpperCase();
    if (method === 'GET' && body && typeof body === 'object') {
      const query = new URLSearchParams();
      Object.keys(body).forEach((key) => query.append(key, body[key]));
      target += (url.search ? '&' : '?') + query.toString();
      body = undefined;
    }
    let aborted = false;
    call(backend, method, target, body, options.header || {}).then(
      (res) => {
        // What WeChat's cashier knows: the prepay the backend just made for this order.
        if (/\/orders\/\d+\/payments$/.test(url.pathname) && res.data && res.data.out_trade_no) {
          fake.outTradeNo = res.data.out_trade_no;
        }
        if (!aborted) options.success(res);
      },
      (err) => {
        if (!aborted) options.fail({ errMsg: `request:fail ${err.message}` });
      },
    );
    return {
      abort() {
        aborted = true;
      },
    };
  };
  fake.loginCode = async () => {
    const res = await call(backend, 'POST', '/sandbox/wechat/login-code', { openid });
    if (res.statusCode !== 200) throw new Error('no login code');
    return res.data.code;
  };
  // The patient taps 允许: WeChat keeps one send per accepted template for this user.
  fake.subscribeRecorder = async (res) => {
    const accepted = Object.keys(res).filter((key) => res[key] === 'accept');
    for (const templateId of accepted) {
      const kept = await call(backend, 'POST', '/sandbox/wechat/consents', {
        openid,
        template_id: templateId,
      });
      if (kept.statusCode !== 200) throw new Error(`consent not recorded: ${kept.statusCode}`);
    }
  };
  // The patient pays in WeChat's cashier: the stand-in pays the order's out_trade_no and sends
  // the signed notification to the backend, as WeChat Pay would.
  fake.paymentResult = async (params) => {
    if (!params.paySign || !fake.outTradeNo) return { errMsg: 'requestPayment:fail no prepay' };
    const paid = await call(backend, 'POST', '/sandbox/wechatpay/pay', {
      out_trade_no: fake.outTradeNo,
    });
    return paid.statusCode === 200
      ? { errMsg: 'requestPayment:ok' }
      : { errMsg: 'requestPayment:fail' };
  };
}

/** Sign in through the API alone (for accounts the journeys need besides the patient's own). */
async function apiLogin(backend, openid) {
  const code = await call(backend, 'POST', '/sandbox/wechat/login-code', { openid });
  const login = await call(backend, 'POST', '/api/v1/auth/wechat', { code: code.data.code });
  return login.data.token;
}

module.exports = { call, installBridge, apiLogin };
