/**
 * The only caller of wx.request. It adds the API's origin (by the environment version), the
 * bearer token and a timeout; turns the API's error envelope {code, message, errors} into one
 * ApiError carrying the server's Chinese message; and on a 401 signs in again silently, once.
 */

const config = require('../config/index');
const storage = require('../utils/storage');

const MESSAGES = {
  timeout: '网络超时，请稍后重试',
  network: '网络连接失败，请检查网络后重试',
  server: '服务暂时不可用，请稍后重试',
  login: '登录失败，请稍后重试',
};

/** Every failure of an API call: `message` is what the patient reads. */
class ApiError extends Error {
  constructor({ status = 0, code, message, errors = null, body = null }) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.errors = errors;
    this.body = body || {};
  }
}

/** develop / trial / release, as WeChat reports the running version. */
function envVersion() {
  try {
    return wx.getAccountInfoSync().miniProgram.envVersion || 'develop';
  } catch (err) {
    return 'develop';
  }
}

function baseUrl() {
  return config.API_BASE[envVersion()] || config.API_BASE.develop;
}

/** Whether this version talks to `make run`'s sandbox stand-ins instead of WeChat. */
function sandboxEnabled() {
  return config.SANDBOX[envVersion()] === true;
}

function toError(res) {
  const body = res.data && typeof res.data === 'object' ? res.data : {};
  if (body.code && body.message) {
    return new ApiError({
      status: res.statusCode,
      code: body.code,
      message: body.message,
      errors: body.errors || null,
      body,
    });
  }
  return new ApiError({ status: res.statusCode, code: 'http_error', message: MESSAGES.server });
}

/** One HTTP exchange; resolves {statusCode, data} for any status, rejects on no answer. */
function send(method, path, data, header, prefix = '/api/v1') {
  return new Promise((resolve, reject) => {
    let settled = false;
    let timer = null;
    const finish = (fn, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn(value);
    };
    const task = wx.request({
      url: baseUrl() + prefix + path,
      method,
      data,
      header,
      timeout: config.REQUEST_TIMEOUT_MS,
      success: (res) => finish(resolve, res),
      fail: (err) => {
        const timedOut = /timeout/i.test((err && err.errMsg) || '');
        finish(
          reject,
          new ApiError({
            code: timedOut ? 'timeout' : 'network_error',
            message: timedOut ? MESSAGES.timeout : MESSAGES.network,
          }),
        );
      },
    });
    // The platform's own timeout differs between versions; this one always holds.
    timer = setTimeout(() => {
      if (task && typeof task.abort === 'function') task.abort();
      finish(reject, new ApiError({ code: 'timeout', message: MESSAGES.timeout }));
    }, config.REQUEST_TIMEOUT_MS);
  });
}

let loggingIn = null;

/**
 * A call to the sandbox's control endpoints (/sandbox/...), which act as the patient's phone
 * against `make run`. Only where sandboxEnabled().
 */
async function sandbox(path, data) {
  const res = await send('POST', path, data, { 'Content-Type': 'application/json' }, '/sandbox');
  if (res.statusCode >= 200 && res.statusCode < 300) return res.data;
  throw toError(res);
}

/** The sandbox's stand-in for wx.login: a code for this phone's own made-up openid. */
async function sandboxLoginCode() {
  let openid = wx.getStorageSync('sandbox.openid');
  if (!openid) {
    openid = 'o_devtools_' + Math.random().toString(36).slice(2, 12);
    wx.setStorageSync('sandbox.openid', openid);
  }
  return (await sandbox('/wechat/login-code', { openid })).code;
}

function wxLoginCode() {
  return new Promise((resolve, reject) => {
    wx.login({
      success: (res) => (res.code ? resolve(res.code) : reject(new Error('no code'))),
      fail: reject,
    });
  });
}

/**
 * Sign in with wx.login → POST /auth/wechat and keep the token. Concurrent callers share
 * one sign-in. Resolves the login answer {token, expires_at, created, account}.
 */
function login() {
  if (!loggingIn) {
    loggingIn = (async () => {
      let code;
      try {
        code = sandboxEnabled() ? await sandboxLoginCode() : await wxLoginCode();
      } catch (err) {
        throw new ApiError({ code: 'login_failed', message: MESSAGES.login });
      }
      const res = await send(
        'POST',
        '/auth/wechat',
        { code },
        { 'Content-Type': 'application/json' },
      );
      if (res.statusCode !== 200) throw toError(res);
      storage.setToken(res.data.token);
      return res.data;
    })();
    loggingIn.then(
      () => {
        loggingIn = null;
      },
      () => {
        loggingIn = null;
      },
    );
  }
  return loggingIn;
}

/**
 * Call the API: resolves the decoded body of a 2xx answer (null for 204), rejects ApiError.
 *   options.auth    send the bearer token (default true); without a token, sign in first
 *   options.header  extra headers (e.g. Idempotency-Key)
 */
async function request(method, path, data, options = {}) {
  const auth = options.auth !== false;
  const attempt = async () => {
    const header = Object.assign({ 'Content-Type': 'application/json' }, options.header || {});
    if (auth) {
      if (!storage.getToken()) await login();
      header.Authorization = 'Bearer ' + storage.getToken();
    }
    return send(method, path, data, header);
  };
  let res = await attempt();
  if (res.statusCode === 401 && auth) {
    storage.clearToken();
    await login();
    res = await attempt();
  }
  if (res.statusCode >= 200 && res.statusCode < 300) {
    return res.statusCode === 204 ? null : res.data;
  }
  throw toError(res);
}

/** The patient-facing message of any error (ApiError or not). */
function messageOf(err) {
  return err instanceof ApiError ? err.message : MESSAGES.server;
}

module.exports = {
  ApiError,
  MESSAGES,
  request,
  login,
  baseUrl,
  sandbox,
  sandboxEnabled,
  messageOf,
  get: (path, data, options) => request('GET', path, data, options),
  post: (path, data, options) => request('POST', path, data, options),
  patch: (path, data, options) => request('PATCH', path, data, options),
  del: (path, data, options) => request('DELETE', path, data, options),
};
