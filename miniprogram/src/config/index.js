/**
 * Build-time settings of the mini-program. No secrets live here: the AppID is in
 * project.config.json; subscription template ids come from the server (GET /subscriptions).
 */

/** The API's origin for each environment version reported by wx.getAccountInfoSync(). */
const API_BASE = {
  // WeChat DevTools against `make run` (tick 「不校验合法域名」 in DevTools' details).
  develop: 'http://127.0.0.1:5000',
  trial: 'https://api-trial.example.com',
  release: 'https://api.example.com',
};

/**
 * Versions that run against `make run`'s sandbox stand-ins: WeChat's servers cannot know a
 * local backend, so there the login code comes from POST /sandbox/wechat/login-code and
 * paying is done by POST /sandbox/wechatpay/pay (the stand-in then notifies the backend, which
 * alone marks the order paid). Never true for release.
 */
const SANDBOX = { develop: true, trial: false, release: false };

/** Every API call gives up after this long (the wrapper aborts it and reports 网络超时). */
const REQUEST_TIMEOUT_MS = 10000;

/** How the pay-result page polls GET /orders/{id}: every interval, at most this many times. */
const PAYMENT_POLL = { intervalMs: 1500, attempts: 20 };

/** How often the visit-day page refreshes the queue while it is shown. */
const QUEUE_REFRESH_MS = 15000;

/**
 * How long a tap's action (paying, checking in) waits for the consents accepted in WeChat's
 * prompt to be recorded (POST /subscriptions) before it goes on regardless.
 */
const CONSENT_RECORD_WAIT_MS = 2000;

module.exports = {
  API_BASE,
  SANDBOX,
  REQUEST_TIMEOUT_MS,
  PAYMENT_POLL,
  QUEUE_REFRESH_MS,
  CONSENT_RECORD_WAIT_MS,
};
