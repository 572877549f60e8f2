/** Subscription message consents (订阅消息): /subscriptions. */

const api = require('./request');

/** POST /subscriptions {kinds}: record the kinds the patient accepted in wx.requestSubscribeMessage. */
function recordConsents(kinds) {
  return api.post('/subscriptions', { kinds });
}

/** GET /subscriptions → the grants left per kind. */
function listConsents() {
  return api.get('/subscriptions');
}

module.exports = { recordConsents, listConsents };
