/**
 * The visit day: check in (POST /orders/{id}/check-in), then the place in the queue
 * (GET /orders/{id}/queue: position, patients ahead, the estimated wait, called), refreshed on a
 * timer only while the page is shown. Refusals and states are shown in the server's words.
 */
const pageBehavior = require('../../../../behaviors/page');
const orders = require('../../../../services/orders');
const { messageOf } = require('../../../../services/request');
const config = require('../../../../config/index');
const { ORDER_STATUS } = require('../../../../constants/index');
const { clock } = require('../../../../utils/format');
const subscribe = require('../../../../utils/subscribe');

// The states in which the place can still change: before check-in (staff may check the patient
// in by the e-ticket), waiting, called (a patient who did not come may be put back in line).
const LIVE = [ORDER_STATUS.BOOKED, ORDER_STATUS.CHECKED_IN, ORDER_STATUS.CALLED];

function queueView(place) {
  return {
    ...place,
    waiting: place.status === ORDER_STATUS.CHECKED_IN,
    called: place.status === ORDER_STATUS.CALLED,
    booked: place.status === ORDER_STATUS.BOOKED,
    calledTime: clock(place.called_at),
    hasEstimate:
      place.estimated_wait_minutes !== null && place.estimated_wait_minutes !== undefined,
  };
}

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
      this.hidden = false;
      if (!this.loadedOnce) return;
      this.refreshQueue();
      this.startRefresh();
    },
    onHide() {
      this.hidden = true;
      this.stopRefresh();
    },
    onUnload() {
      this.hidden = true;
      this.stopRefresh();
    },
    load() {
      return this.guard(async () => {
        // The template ids too: the check-in tap asks for queue_called at once.
        const [order] = await Promise.all([orders.getOrder(this.orderId), subscribe.prepare()]);
        this.setData({ order: { ...order, time: clock(order.suggested_time) } });
        await this.refreshQueue();
        this.loadedOnce = true;
        this.startRefresh();
      });
    },
    /** The server's place, and the order's state as the queue read tells it. */
    showPlace(place) {
      this.setData({
        queue: queueView(place),
        queueMessage: '',
        'order.status': place.status,
        'order.status_name': place.status_text,
      });
    },
    async refreshQueue() {
      if (this.reading) return;
      this.reading = true;
      try {
        this.showPlace(await orders.getQueue(this.orderId));
      } catch (err) {
        // A lost answer is tried again on the next tick; a 404 (not this account's) is final.
        this.setData({ queueMessage: messageOf(err) });
        if (err.status === 404) this.gone = true;
      } finally {
        this.reading = false;
      }
      if (!this.isLive()) this.stopRefresh();
    },
    isLive() {
      const order = this.data.order;
      return Boolean(order) && !this.gone && LIVE.includes(order.status);
    },
    startRefresh() {
      this.stopRefresh();
      if (this.hidden || !this.isLive()) return;
      this.timer = setInterval(() => this.refreshQueue(), config.QUEUE_REFRESH_MS);
    },
    stopRefresh() {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
    },
    onCheckIn() {
      if (this.data.checkingIn) return;
      this.setData({ checkingIn: true, checkInMessage: '' });
      // Asked from the tap, as WeChat requires: be told when the turn comes.
      subscribe
        .ask(subscribe.MOMENTS.checkIn)
        .then(() => orders.checkIn(this.orderId))
        .then(
          (place) => {
            this.showPlace(place);
            this.toast('签到成功');
            this.startRefresh();
          },
          (err) => this.setData({ checkInMessage: messageOf(err) }),
        )
        .then(() => this.setData({ checkingIn: false }));
    },
  },
});
