/**
 * Asking for subscription message consent. WeChat only shows the prompt from a tap, so call
 * ask() first thing in a tap handler (e.g. the pay button); what the patient accepted is
 * recorded with POST /subscriptions. A refusal or a failure never blocks what the tap does.
 */

const config = require('../config/index');
const subscriptions = require('../services/subscriptions');

/** Ask for `kinds` (≤ 3 per prompt); resolves the kinds accepted and recorded ([] if none). */
function ask(kinds) {
  const wanted = kinds.filter((kind) => config.SUBSCRIBE_TEMPLATES[kind]).slice(0, 3);
  if (!wanted.length) return Promise.resolve([]);
  const tmplIds = wanted.map((kind) => config.SUBSCRIBE_TEMPLATES[kind]);
  return new Promise((resolve) => {
    wx.requestSubscribeMessage({
      tmplIds,
      success: (res) => resolve(wanted.filter((kind, i) => res[tmplIds[i]] === 'accept')),
      fail: () => resolve([]),
    });
  }).then((accepted) => {
    if (!accepted.length) return [];
    return subscriptions.recordConsents(accepted).then(
      () => accepted,
      () => [],
    );
  });
}

module.exports = { ask };
