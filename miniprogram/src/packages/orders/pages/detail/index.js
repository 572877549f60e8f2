/**
 * An order: the e-ticket (QR code of the signed payload, number, arrival time, place), paying
 * an unpaid hold, cancelling with the refund quote shown first, rescheduling, the visit day; an
 * order the hospital cancelled (停诊) says why, and that the fee comes back in full.
 */
const pageBehavior = require('../../../../behaviors/page');
const orders = require('../../../../services/orders');
const { messageOf } = require('../../../../services/request');
const { ORDER_STATUS, REFUND_QUOTE_REASON, CANCELLED_BY } = require('../../../../constants/index');
const { yuan, clock, dateTime, secondsUntil, mmss } = require('../../../../utils/format');
const qr = require('../../../../utils/qr');
const subscribe = require('../../../../utils/subscribe');
const { payOrder } = require('../../../../utils/pay');
const nav = require('../../../../utils/nav');

const TICKET_STATUSES = [ORDER_STATUS.BOOKED, ORDER_STATUS.CHECKED_IN, ORDER_STATUS.CALLED];
const QR_SIZE = 200;

function orderView(order) {
  const s = order.status;
  return {
    ...order,
    amount: yuan(order.amount_fen),
    time: clock(order.suggested_time),
    created: dateTime(order.created_at),
    refunds: (order.refunds || []).map((r) => ({
      ...r,
      amount: yuan(r.amount_fen),
      fee: yuan(r.fee_fen),
    })),
    canPay: s === ORDER_STATUS.PENDING_PAYMENT,
    canCancel: s === ORDER_STATUS.PENDING_PAYMENT || s === ORDER_STATUS.BOOKED,
    canReschedule: s === ORDER_STATUS.BOOKED,
    canVisit: TICKET_STATUSES.includes(s),
    hasTicket: TICKET_STATUSES.includes(s),
    // 停诊: the server's cancel_reason reads 「停诊：<reason>」; a paid fee is refunded in full.
    byHospital: s === ORDER_STATUS.CANCELLED && order.cancelled_by === CANCELLED_BY.HOSPITAL,
    // …and the open clinics its notice offered instead (at most three).
    alternatives: order.alternatives || [],
  };
}

Component({
  behaviors: [pageBehavior],
  data: {
    order: null,
    ticket: null,
    qrModules: 0,
    quote: null,
    busy: false,
    countdown: '',
  },
  lifetimes: {
    detached() {
      this.stopCountdown();
    },
  },
  methods: {
    onLoad(query) {
      this.orderId = Number(query.id);
    },
    onShow() {
      this.load();
    },
    onUnload() {
      this.stopCountdown();
    },
    load() {
      return this.guard(async () => {
        // The template ids too (read once while the app runs): paying and cancelling ask at the tap.
        const [answer] = await Promise.all([orders.getOrder(this.orderId), subscribe.prepare()]);
        const order = orderView(answer);
        this.setData({ order, quote: null, ticket: null, qrModules: 0 });
        if (order.hasTicket) await this.loadTicket();
        if (order.canPay) this.startCountdown();
        else this.stopCountdown();
      });
    },
    async loadTicket() {
      const ticket = await orders.getTicket(this.orderId);
      const rows = qr.matrix(ticket.qr_payload);
      this.setData({ ticket, qrModules: rows.length });
      // The canvas is in the tree after this render; drawing failures leave the number shown.
      wx.nextTick(() => {
        qr.render(this, 'ticket-qr', ticket.qr_payload, QR_SIZE).catch(() => {
          // No 2d canvas here: the number and arrival time above still identify the visit.
        });
      });
    },
    startCountdown() {
      this.stopCountdown();
      const tick = () => {
        const left = secondsUntil(this.data.order.expires_at);
        this.setData({ countdown: mmss(left) });
        if (left === 0) this.stopCountdown();
      };
      tick();
      this.timer = setInterval(tick, 1000);
    },
    stopCountdown() {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
    },
    onPay() {
      if (this.data.busy) return;
      this.setData({ busy: true });
      subscribe
        .ask(subscribe.MOMENTS.pay)
        .then(() => payOrder(this.orderId, this.data.order.amount_fen))
        .then((outcome) => {
          if (outcome === 'cancelled') this.toast('支付未完成');
          else nav.go('payResult', { id: this.orderId });
        })
        .catch((err) => this.toast(messageOf(err)))
        .then(() => this.setData({ busy: false }));
    },
    async onCancel() {
      if (this.data.busy) return;
      this.setData({ busy: true });
      try {
        const quote = await orders.getRefundQuote(this.orderId);
        this.setData({
          quote: {
            ...quote,
            refund: yuan(quote.refund_fen),
            fee: yuan(quote.fee_fen),
            reasonText: REFUND_QUOTE_REASON[quote.reason] || '',
            paid: this.data.order.paid,
          },
        });
      } catch (err) {
        this.toast(messageOf(err));
      } finally {
        this.setData({ busy: false });
      }
    },
    closeQuote() {
      this.setData({ quote: null });
    },
    async confirmCancel() {
      if (this.data.busy) return;
      // A paid order's refund: ask from the tap (before any await) to be told its result.
      const consent = this.data.order.paid ? subscribe.ask(subscribe.MOMENTS.cancel) : null;
      this.setData({ busy: true });
      try {
        if (consent) await consent;
        await orders.cancelOrder(this.orderId);
        this.toast('已取消预约');
        await this.load();
      } catch (err) {
        this.toast(messageOf(err));
        this.setData({ quote: null });
      } finally {
        this.setData({ busy: false });
      }
    },
    onReschedule() {
      nav.go('reschedule', { id: this.orderId });
    },
    onVisit() {
      nav.go('visit', { id: this.orderId });
    },
  },
});
