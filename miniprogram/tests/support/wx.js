/**
 * Fakes of the wx APIs the mini-program calls. State lives on `wx.__fake` so a test can read
 * where a page navigated, which toasts and modals it showed, and what it stored.
 */

function ok(options, res) {
  if (options && typeof options.success === 'function') options.success(res);
  if (options && typeof options.complete === 'function') options.complete(res);
  return Promise.resolve(res);
}

function fail(options, res) {
  if (options && typeof options.fail === 'function') options.fail(res);
  if (options && typeof options.complete === 'function') options.complete(res);
  return Promise.resolve(res);
}

function installWx() {
  const fake = {
    storage: new Map(),
    navigations: [],
    toasts: [],
    modals: [],
    modalConfirm: true,
    payments: [],
    paymentResult: { errMsg: 'requestPayment:ok' },
    subscribeRequests: [],
    subscribeAnswer: 'accept',
    subscribeRecorder: null,
    loginCode: () => 'unit-test-code',
    requestHandler: null,
    requests: [],
  };
  const nav = (kind) => (options) => {
    fake.navigations.push({ kind, url: options.url });
    return ok(options, { errMsg: `${kind}:ok` });
  };
  Object.assign(global.wx, {
    __fake: fake,
    getStorageSync: (key) => (fake.storage.has(key) ? fake.storage.get(key) : ''),
    setStorageSync: (key, value) => {
      fake.storage.set(key, JSON.parse(JSON.stringify(value)));
    },
    removeStorageSync: (key) => {
      fake.storage.delete(key);
    },
    // 'trial': the production paths (wx.login, wx.requestPayment); tests of the sandbox set 'develop'.
    getAccountInfoSync: () => ({ miniProgram: { appId: 'touristappid', envVersion: 'trial' } }),
    navigateTo: nav('navigateTo'),
    redirectTo: nav('redirectTo'),
    switchTab: nav('switchTab'),
    reLaunch: nav('reLaunch'),
    navigateBack: (options) => {
      fake.navigations.push({ kind: 'navigateBack' });
      return ok(options, { errMsg: 'navigateBack:ok' });
    },
    showToast: (options) => {
      fake.toasts.push(options.title);
      return ok(options, { errMsg: 'showToast:ok' });
    },
    showModal: (options) => {
      fake.modals.push({ title: options.title, content: options.content });
      return ok(options, { confirm: fake.modalConfirm, cancel: !fake.modalConfirm });
    },
    showLoading: (options) => ok(options, {}),
    hideLoading: (options) => ok(options, {}),
    stopPullDownRefresh: (options) => ok(options, {}),
    makePhoneCall: (options) => ok(options, {}),
    login: (options) => {
      Promise.resolve(fake.loginCode()).then(
        (code) => ok(options, { code, errMsg: 'login:ok' }),
        () => fail(options, { errMsg: 'login:fail' }),
      );
    },
    requestPayment: (options) => {
      fake.payments.push(options);
      Promise.resolve(
        typeof fake.paymentResult === 'function' ? fake.paymentResult(options) : fake.paymentResult,
      ).then((res) => (/:ok$/.test(res.errMsg) ? ok(options, res) : fail(options, res)));
    },
    // subscribeAnswer: 'accept' / 'reject' for every id, or a function of the id; 'fail' fails.
    // subscribeRecorder(res): what WeChat does with the answer before calling back (e2e).
    requestSubscribeMessage: (options) => {
      fake.subscribeRequests.push(options.tmplIds);
      if (fake.subscribeAnswer === 'fail') {
        return fail(options, { errMsg: 'requestSubscribeMessage:fail', errCode: 20004 });
      }
      const res = { errMsg: 'requestSubscribeMessage:ok' };
      options.tmplIds.forEach((id) => {
        res[id] =
          typeof fake.subscribeAnswer === 'function'
            ? fake.subscribeAnswer(id)
            : fake.subscribeAnswer;
      });
      if (!fake.subscribeRecorder) return ok(options, res);
      return Promise.resolve(fake.subscribeRecorder(res)).then(() => ok(options, res));
    },
    request: (options) => {
      fake.requests.push({
        method: options.method,
        url: options.url,
        data: options.data,
        header: options.header,
      });
      if (!fake.requestHandler)
        throw new Error(`no API in this test: ${options.method} ${options.url}`);
      return fake.requestHandler(options);
    },
  });
  return fake;
}

module.exports = { installWx };
