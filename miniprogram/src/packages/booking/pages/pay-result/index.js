/**
 * After wx.requestPayment: the client's callback proves nothing, so this page polls
 * GET /orders/{id} until the server has the payment's verified notification (booked) or the
 * order ended otherwise; polling stops after PAYMENT_POLL.attempts or when the page goes.
 */
const pageBehavior = require('../../../../behaviors/page');
const orders = require('../../../../services/orders');
const config = require('../../../../config/index');
const { ORDER_STATUS, ACTIVE_STATUSES } = require('../../../../constants/index');
const { yuan, clock } = require('../../../../utils/format');
const nav = require('../../../../utils/nav');

Component({
  behaviors: [pageBehavior],
  data: {
    state: 'waiting', // waiting | booked | failed | unknown
    order: null,
    message: '正在确认支付结果…',
  },
  lifetimes: {
    detached() {
      this.stop();
    },
  },
  methods: {
    onLoad(query) {
      this.orderId = Number(query.id);
      this.attempts = 0;
      this.stopped = false;
      this.poll();
    },
    onUnload() {
      this.stop();
    },
    stop() {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.stopped = true;
    },
    async poll() {
      this.attempts += 1;
      let order = null;
      try {
        order = await orders.getOrder(this.orderId);
      } catch (err) {
        // A lost answer is no verdict: ask again.
      }
      if (this.stopped) return;
      if (order) {
        const view = {
          ...order,
          amount: yuan(order.amount_fen),
          time: clock(order.suggested_time),
        };
        if (order.status !== ORDER_STATUS.PENDING_PAYMENT) {
          const booked =
            ACTIVE_STATUSES.includes(order.status) || order.status === ORDER_STATUS.COMPLETED;
          this.setData({
            order: view,
            loading: false,
            state: booked ? 'booked' : 'failed',
            message: booked ? '挂号成功' : '订单已关闭，如已扣款将原路全额退回',
          });
          return;
        }
        this.setData({ order: view });
      }
      if (this.attempts >= config.PAYMENT_POLL.attempts) {
        this.setData({
          loading: false,
          state: 'unknown',
          message: '支付结果确认中，请稍后在「我的订单」中查看',
        });
        return;
      }
      this.timer = setTimeout(() => this.poll(), config.PAYMENT_POLL.intervalMs);
    },
    openOrder() {
      nav.replace('orderDetail', { id: this.orderId });
    },
    goHome() {
      nav.tab('home');
    },
  },
});
