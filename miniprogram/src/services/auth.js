/** Sign-in and the account: /auth/* and /me. */

const api = require('./request');

/** wx.login → POST /auth/wechat; keeps the token. Resolves {token, expires_at, created, account}. */
function loginWithWechat() {
  return api.login();
}

/** GET /me → {id, nickname, phone_masked, has_phone, has_wechat, status, created_at}. */
function getMe() {
  return api.get('/me');
}

/** POST /auth/phone {code}: bind the number of the getPhoneNumber button → the account. */
function bindPhone(code) {
  return api.post('/auth/phone', { code });
}

/** POST /auth/logout: every token of the account stops working (204). */
function logout() {
  return api.post('/auth/logout');
}

/** PATCH /me {nickname} → the account. */
function updateMe(changes) {
  return api.patch('/me', changes);
}

/** GET /me/export: everything kept about the account holder and their patients, unmasked. */
function exportMe() {
  return api.get('/me/export');
}

/** DELETE /me (204): close the account; tokens revoked, patients anonymised. */
function deleteMe() {
  return api.del('/me');
}

module.exports = { loginWithWechat, getMe, bindPhone, logout, updateMe, exportMe, deleteMe };
