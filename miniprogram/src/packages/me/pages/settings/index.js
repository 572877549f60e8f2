/**
 * Subscription settings: how many reminders of each kind are still granted, and a tap that asks
 * WeChat for more (wx.requestSubscribeMessage, then POST /subscriptions).
 */
const pageBehavior = require('../../../../behaviors/page');
const subscriptions = require('../../../../services/subscriptions');
const auth = require('../../../../services/auth');
const { messageOf } = require('../../../../services/request');
const storage = require('../../../../utils/storage');
const nav = require('../../../../utils/nav');
const { SUBSCRIPTION_KINDS } = require('../../../../constants/index');
const subscribe = require('../../../../utils/subscribe');

const UNAVAILABLE = '消息提醒设置暂未开放，挂号和支付时仍可订阅提醒';

/** GET /subscriptions may answer a list [{kind, remaining}] or a map {kind: remaining}. */
function remainingByKind(answer) {
  const list = Array.isArray(answer) ? answer : (answer && answer.items) || null;
  if (list) {
    const map = {};
    list.forEach((item) => {
      map[item.kind] = item.remaining;
    });
    return map;
  }
  return answer || {};
}

Component({
  behaviors: [pageBehavior],
  data: {
    kinds: [],
    unavailable: '',
  },
  methods: {
    onLoad() {
      this.load();
    },
    load() {
      return this.guard(async () => {
        let remaining = {};
        try {
          remaining = remainingByKind(await subscriptions.listConsents());
          this.setData({ unavailable: '' });
        } catch (err) {
          if (err.status !== 404) throw err;
          this.setData({ unavailable: UNAVAILABLE });
        }
        this.setData({
          kinds: SUBSCRIPTION_KINDS.map((k) => ({ ...k, remaining: remaining[k.value] || 0 })),
        });
      });
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
      subscribe.ask([kind]).then((accepted) => {
        this.toast(accepted.length ? '已开启提醒' : '未开启提醒');
        if (accepted.length) this.load();
      });
    },
  },
});
