/**
 * Subscription message consents (订阅消息): /subscriptions. Both endpoints answer every kind as
 * {items: [{kind, name, template_id, remaining}]}; `template_id` is what
 * wx.requestSubscribeMessage asks for, so the ids are read from the server, once while the app runs.
 */

const api = require('./request');

// {kind: template_id} of the last answer: the ids are the server's configuration, so one read
// serves the session. A kind whose template_id is null has no template and is never asked for.
let templates = null;
let loading = null;

function remember(answer) {
  const items = (answer && answer.items) || [];
  const ids = {};
  items.forEach((item) => {
    if (item.template_id) ids[item.kind] = item.template_id;
  });
  templates = ids;
  return items;
}

/** GET /subscriptions → [{kind, name, template_id, remaining}] for every kind (remembers the ids). */
async function listConsents() {
  return remember(await api.get('/subscriptions'));
}

/**
 * POST /subscriptions {kinds}: one more allowed message of each kind the patient accepted in
 * wx.requestSubscribeMessage (a kind named twice counts once) → the same list as GET.
 * 422 validation_error for an unknown kind or an empty list.
 */
async function recordConsents(kinds) {
  return remember(await api.post('/subscriptions', { kinds }));
}

/**
 * The template id of each kind, {kind: template_id}: read with GET /subscriptions the first time
 * (concurrent callers share the read; a failed read rejects and is tried again next time).
 */
function loadTemplates() {
  if (templates) return Promise.resolve(templates);
  if (!loading) {
    loading = listConsents().then(
      () => {
        loading = null;
        return templates;
      },
      (err) => {
        loading = null;
        throw err;
      },
    );
  }
  return loading;
}

/** The template ids read since the app started, or null: what a tap handler may use at once. */
function cachedTemplates() {
  return templates;
}

module.exports = { listConsents, recordConsents, loadTemplates, cachedTemplates };
