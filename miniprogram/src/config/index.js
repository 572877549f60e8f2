/**
 * Build-time settings of the mini-program. No secrets live here: the AppID is in
 * project.config.json, and subscription template ids are public identifiers from 微信公众平台.
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
 * Subscription message template ids (微信公众平台 → 订阅消息), one per kind of the API.
 * Replace them with the ids of the templates chosen for the mini-program's AppID.
 */
const SUBSCRIBE_TEMPLATES = {
  booking_confirmed: 'REPLACE_WITH_TEMPLATE_ID_BOOKING_CONFIRMED',
  visit_reminder: 'REPLACE_WITH_TEMPLATE_ID_VISIT_REMINDER',
  stop_clinic: 'REPLACE_WITH_TEMPLATE_ID_STOP_CLINIC',
  refund_result: 'REPLACE_WITH_TEMPLATE_ID_REFUND_RESULT',
  queue_called: 'REPLACE_WITH_TEMPLATE_ID_QUEUE_CALLED',
};

module.exports = {
  API_BASE,
  SANDBOX,
  REQUEST_TIMEOUT_MS,
  PAYMENT_POLL,
  QUEUE_REFRESH_MS,
  SUBSCRIBE_TEMPLATES,
};
