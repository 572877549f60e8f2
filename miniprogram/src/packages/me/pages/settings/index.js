/**
 * Subscription settings: each kind of message (its name as the server gives it) with the
 * messages still allowed, and a tap that asks WeChat for one more (wx.requestSubscribeMessage,
 * then POST /subscriptions); closing the account.
 */
const pageBehavior = require('../../../../behaviors/page');
const subscriptions = require('../../../../services/subscriptions');
const auth = require('../../../../services/auth');
const { messageOf } = require('../../../../services/request');
const storage = require('../../../../utils/storage');
const nav = require('../../../../utils/nav');
const subscribe = require('../../../../utils/subscribe');

Component({
  behaviors: [pageBehavior],
  data: {
    kinds: [],
    consentError: '',
  },
  methods: {
    onLoad() {
      this.load();
    },
    load() {
      // A failed read leaves the rest of the page (closing the account) usable.
      return this.guard(() => this.loadConsents());
    },
    async loadConsents() {
      try {
        this.setData({ kinds: await subscriptions.listConsents(), consentError: '' });
      } catch (err) {
        this.setData({ consentError: messageOf(err) });
      }
    },
    onDeleteAccount() {
      wx.showModal({
        title: '注销账号',
        content:
          '注销后将无法登录此账号，就诊人信息将被匿名化（已有挂号记录由医院按规定保存）。确定注销吗？',
        confirmText: '注销',
        confirmColor: '#b42318',
        success: async (res) => {
          if (!res.confirm) return;
          try {
            await auth.deleteMe();
            storage.clearToken();
            this.toast('账号已注销');
            wx.reLaunch({ url: nav.PAGES.home });
          } catch (err) {
            this.toast(messageOf(err));
          }
        },
      });
    },
    onSubscribe(e) {
      const kind = e.currentTarget.dataset.kind;
      subscribe.ask([kind]).then(({ accepted, recorded }) => {
        if (!accepted.length) {
          this.toast('未开启提醒');
          return null;
        }
        return recorded.then((kinds) => {
          if (kinds) this.setData({ kinds });
          this.toast(kinds ? '已开启提醒' : '提醒未能保存，请稍后重试');
        });
      });
    },
  },
});
