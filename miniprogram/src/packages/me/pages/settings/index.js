/**
 * Subscription settings: how many reminders of each kind are still granted, and a tap that asks
 * WeChat for more (wx.requestSubscribeMessage, then POST /subscriptions).
 */
const pageBehavior = require('../../../../behaviors/page');
const subscriptions = require('../../../../services/subscriptions');
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
    onSubscribe(e) {
      const kind = e.currentTarget.dataset.kind;
      subscribe.ask([kind]).then((accepted) => {
        this.toast(accepted.length ? '已开启提醒' : '未开启提醒');
        if (accepted.length) this.load();
      });
    },
  },
});
