/**
 * The visit day: check in (POST /orders/{id}/check-in), then the live queue position and the
 * estimated wait (GET /orders/{id}/queue), refreshed on a timer only while the page is shown.
 */
const pageBehavior = require('../../../../behaviors/page');
const orders = require('../../../../services/orders');
const { messageOf } = require('../../../../services/request');
const config = require('../../../../config/index');
const { clock } = require('../../../../utils/format');
const subscribe = require('../../../../utils/subscribe');

const UNAVAILABLE = {
  checkIn: '医院暂未开通线上签到，请到分诊台或自助机签到',
  queue: '暂时查询不到候诊信息，请留意诊区叫号屏',
};

Component({
  behaviors: [pageBehavior],
  data: {
    order: null,
    queue: null,
    queueMessage: '',
    checkingIn: false,
    checkInMessage: '',
  },
  lifetimes: {
    detached() {
      this.stopRefresh();
    },
  },
  methods: {
    onLoad(query) {
      this.orderId = Number(query.id);
      this.load();
    },
    onShow() {
      if (this.loadedOnce) this.startRefresh();
    },
    onHide() {
      this.stopRefresh();
    },
    onUnload() {
      this.stopRefresh();
    },
    load() {
      return this.guard(async () => {
        const order = await orders.getOrder(this.orderId);
        this.setData({ order: { ...order, time: clock(order.suggested_time) } });
        await this.refreshQueue();
        this.loadedOnce = true;
        this.startRefresh();
      });
    },
    async refreshQueue() {
      try {
        const queue = await orders.getQueue(this.orderId);
        this.setData({ queue, queueMessage: '' });
      } catch (err) {
        this.setData({
          queue: null,
          queueMessage: err.status === 404 ? UNAVAILABLE.queue : messageOf(err),
        });
        if (err.status === 404) this.stopRefresh();
      }
    },
    startRefresh() {
      this.stopRefresh();
      if (this.data.queueMessage === UNAVAILABLE.queue) return;
      this.timer = setInterval(() => this.refreshQueue(), config.QUEUE_REFRESH_MS);
    },
    stopRefresh() {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
    },
    onCheckIn() {
      if (this.data.checkingIn) return;
      this.setData({ checkingIn: true, checkInMessage: '' });
      // Asked from the tap: be told when called.
      subscribe
        .ask(['queue_called'])
        .then(() => orders.checkIn(this.orderId))
        .then(
          async (order) => {
            if (order && order.status)
              this.setData({
                'order.status': order.status,
                'order.status_name': order.status_name,
              });
            this.toast('签到成功');
            await this.refreshQueue();
            this.startRefresh();
          },
          (err) =>
            this.setData({
              checkInMessage: err.status === 404 ? UNAVAILABLE.checkIn : messageOf(err),
            }),
        )
        .then(() => this.setData({ checkingIn: false }));
    },
  },
});
