/**
 * What the mini-program keeps on the phone (wx storage): the bearer token, the elder-mode
 * preference and the recently visited departments. Nothing else, and no personal data.
 */

const KEYS = {
  token: 'auth.token',
  elder: 'prefs.elder',
  recent: 'visits.recent',
};

const RECENT_LIMIT = 5;

function read(key, fallback) {
  try {
    const value = wx.getStorageSync(key);
    return value === '' || value === undefined || value === null ? fallback : value;
  } catch (err) {
    return fallback;
  }
}

function write(key, value) {
  try {
    wx.setStorageSync(key, value);
  } catch (err) {
    // Storage full or unavailable: the app still works, it just forgets.
  }
}

function remove(key) {
  try {
    wx.removeStorageSync(key);
  } catch (err) {
    // Nothing to forget.
  }
}

/** The bearer token of POST /auth/wechat, or '' when signed out. */
function getToken() {
  return read(KEYS.token, '');
}

function setToken(token) {
  write(KEYS.token, token);
}

function clearToken() {
  remove(KEYS.token);
}

/** Whether 长辈模式 (large type, high contrast, fewer taps) is on. */
function isElder() {
  return read(KEYS.elder, false) === true;
}

function setElder(on) {
  write(KEYS.elder, Boolean(on));
}

/** Recently visited departments, newest first: [{id, name, hospital_id, hospital_name}]. */
function recentVisits() {
  const list = read(KEYS.recent, []);
  return Array.isArray(list) ? list : [];
}

function rememberVisit(department) {
  const entry = {
    id: department.id,
    name: department.name,
    hospital_id: department.hospital_id,
    hospital_name: department.hospital_name,
  };
  const rest = recentVisits().filter((item) => item.id !== entry.id);
  write(KEYS.recent, [entry].concat(rest).slice(0, RECENT_LIMIT));
}

module.exports = {
  KEYS,
  getToken,
  setToken,
  clearToken,
  isElder,
  setElder,
  recentVisits,
  rememberVisit,
};
