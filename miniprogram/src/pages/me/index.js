/** Me: the account, phone binding (getPhoneNumber), 长辈模式, links, logout. */
const pageBehavior = require('../../behaviors/page');
const auth = require('../../services/auth');
const { messageOf } = require('../../services/request');
const storage = require('../../utils/storage');
const nav = require('../../utils/nav');

Component({
  behaviors: [pageBehavior],
  data: {
    account: null,
    signedOut: false,
  },
  methods: {
    onLoad() {
      this.load();
    },
    onShow() {
      this.refreshElder();
    },
    load() {
      this.setData({ signedOut: false });
      return this.guard(async () => {
        this.setData({ account: await auth.getMe() });
      });
    },
    async onPhone(e) {
      const code = e.detail && e.detail.code;
      if (!code) {
        this.toast('未授权手机号，可稍后再绑定');
        return;
      }
      try {
        const account = await auth.bindPhone(code);
        this.setData({ account });
        this.toast('手机号已绑定');
      } catch (err) {
        this.toast(messageOf(err));
      }
    },
    onElder(e) {
      const on = e.detail.value;
      storage.setElder(on);
      this.setData({ elder: on });
      this.toast(on ? '已开启长辈模式' : '已关闭长辈模式');
    },
    openOrders() {
      nav.go('orders');
    },
    openFamily() {
      nav.go('family');
    },
    openSettings() {
      nav.go('settings');
    },
    onLogout() {
      wx.showModal({
        title: '退出登录',
        content: '退出后，本机将不再保持登录状态。',
        success: async (res) => {
          if (!res.confirm) return;
          try {
            await auth.logout();
          } catch (err) {
            // The token is forgotten here anyway; the server revokes it on its side when it can.
          }
          storage.clearToken();
          this.setData({ account: null, signedOut: true });
        },
      });
    },
  },
});
