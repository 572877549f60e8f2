/**
 * Asking for subscription message consent (订阅消息). WeChat shows its prompt only from a tap
 * (not after an await inside one), so a tap handler calls ask() first thing, with the template
 * ids already read since the app started: pages that ask wait for prepare() as they load, so their
 * buttons appear once the ids are known. What the
 * patient accepted is recorded with POST /subscriptions. A refusal or a failure never stops what
 * the tap does; the tap's action waits for the recording at most CONSENT_RECORD_WAIT_MS, because
 * the server checks the grants when it sends (a booking confirmation as soon as the payment is
 * notified, a queue_called notice at check-in).
 */

const config = require('../config/index');
const subscriptions = require('../services/subscriptions');
const { SUBSCRIPTION_KIND: KIND } = require('../constants/index');

/** WeChat takes at most 3 template ids per prompt. */
const MAX_PER_PROMPT = 3;

/** The kinds asked for at each moment a patient taps. */
const MOMENTS = {
  // Paying (or holding a free number): what a booked patient will want to hear about. A stopped
  // clinic's notice says the fee is refunded in full.
  pay: [KIND.BOOKING_CONFIRMED, KIND.VISIT_REMINDER, KIND.STOP_CLINIC],
  // Cancelling a paid order: the refund's result.
  cancel: [KIND.REFUND_RESULT],
  // Checking in: being told when the turn comes.
  checkIn: [KIND.QUEUE_CALLED],
};

const NOTHING = { accepted: [], recorded: Promise.resolve(null) };

/** Read the template ids ahead of the tap that needs them (never rejects: no ids, no prompt). */
function prepare() {
  return subscriptions.loadTemplates().catch(() => null);
}

/** 'accept' (WeChat also answers 'acceptWithAudio' / 'acceptWithAlert' for some templates). */
function isAccepted(answer) {
  return typeof answer === 'string' && answer.indexOf('accept') === 0;
}

/** `promise`, or null after `ms`, whichever comes first. */
function atMost(promise, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    promise.then((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/**
 * Ask for `kinds` (the first 3 that have a template). Resolves {accepted, recorded} once the
 * patient has answered and the grants are recorded (or CONSENT_RECORD_WAIT_MS went by):
 * `accepted` the kinds accepted, `recorded` a promise of POST /subscriptions's list (null when
 * nothing was recorded). Never rejects.
 */
function ask(kinds) {
  const templates = subscriptions.cachedTemplates();
  if (!templates) {
    prepare(); // too late for this tap; the next one can ask
    return Promise.resolve(NOTHING);
  }
  const wanted = kinds.filter((kind) => templates[kind]).slice(0, MAX_PER_PROMPT);
  if (!wanted.length) return Promise.resolve(NOTHING);
  const tmplIds = wanted.map((kind) => templates[kind]);
  return new Promise((resolve) => {
    wx.requestSubscribeMessage({
      tmplIds,
      success: (res) => resolve(wanted.filter((kind, i) => isAccepted(res[tmplIds[i]]))),
      fail: () => resolve([]),
    });
  }).then((accepted) => {
    if (!accepted.length) return NOTHING;
    const recorded = subscriptions.recordConsents(accepted).catch(() => null);
    return atMost(recorded, config.CONSENT_RECORD_WAIT_MS).then(() => ({ accepted, recorded }));
  });
}

module.exports = { MOMENTS, MAX_PER_PROMPT, prepare, ask };
