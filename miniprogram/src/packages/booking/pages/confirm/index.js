/**
 * Confirm booking: choose the family member, hold the number (POST /orders), then pay before
 * the hold expires; a free clinic's number (fee 0) is booked at once. Refusals are shown in the
 * server's words (e.g. 该科室仅接诊女性患者).
 */
const pageBehavior = require('../../../../behaviors/page');
const catalogue = require('../../../../services/catalogue');
const patients = require('../../../../services/patients');
const orders = require('../../../../services/orders');
const { messageOf } = require('../../../../services/request');
const { yuan, dayLabel, clock, secondsUntil, mmss } = require('../../../../utils/format');
const subscribe = require('../../../../utils/subscribe');
const { payOrder } = require('../../../../utils/pay');
const nav = require('../../../../utils/nav');
const { NOT_ELIGIBLE_HINT, ORDER_STATUS } = require('../../../../constants/index');

function defaultPatient(list) {
  const self = list.find((p) => p.relationship === 'self');
  return (self || list[0] || {}).id || null;
}

Component({
  behaviors: [pageBehavior],
  data: {
    schedule: null,
    fee: '',
    day: '',
    patients: [],
    patientId: null,
    submitting: false,
    refusal: '',
    refusalHint: '',
    order: null,
    countdown: '',
    expired: false,
    paying: false,
  },
  lifetimes: {
    detached() {
      this.stopCountdown();
    },
  },
  methods: {
    onLoad(query) {
      this.query = {
        scheduleId: Number(query.schedule_id),
        departmentId: Number(query.department_id),
        date: query.date,
      };
      this.load();
    },
    onShow() {
      // Back from adding a family member: pick them up.
      if (this.loaded && !this.data.order) this.loadPatients();
    },
    onUnload() {
      this.stopCountdown();
    },
    load() {
      return this.guard(async () => {
        const { scheduleId, departmentId, date } = this.query;
        // The template ids too: the taps that book and pay ask for consent at once.
        const [schedules] = await Promise.all([
          catalogue.getSchedules(departmentId, date),
          this.loadPatients(),
          subscribe.prepare(),
        ]);
        const schedule = schedules.find((s) => s.id === scheduleId);
        if (!schedule) throw new Error('schedule not found');
        const day = dayLabel(schedule.date);
        this.setData({ schedule, fee: yuan(schedule.fee_fen), day: `${day.date} ${day.weekday}` });
        this.loaded = true;
      });
    },
    async loadPatients() {
      const page = await patients.listPatients();
      const keep = page.items.some((p) => p.id === this.data.patientId);
      this.setData({
        patients: page.items,
        patientId: keep ? this.data.patientId : defaultPatient(page.items),
      });
    },
    onPatient(e) {
      this.attemptKey = null;
      this.setData({ patientId: e.currentTarget.dataset.id, refusal: '', refusalHint: '' });
    },
    addPatient() {
      nav.go('familyEdit', { from: 'confirm' });
    },
    async onSubmit() {
      if (!this.data.patientId) {
        this.toast('请先选择就诊人');
        return;
      }
      if (this.data.submitting) return;
      // A free number is booked by this tap, so it is the moment to ask (before any await).
      const consent =
        this.data.schedule.fee_fen === 0 && !this.attemptKey
          ? subscribe.ask(subscribe.MOMENTS.pay)
          : null;
      // One key per attempt; a retry after a lost answer reuses it, so nothing is held twice.
      this.attemptKey = this.attemptKey || orders.newIdempotencyKey();
      this.setData({ submitting: true, refusal: '', refusalHint: '' });
      try {
        if (consent) await consent;
        const order = await orders.createOrder(
          this.query.scheduleId,
          this.data.patientId,
          this.attemptKey,
        );
        this.attemptKey = null;
        if (order.status === ORDER_STATUS.BOOKED) {
          nav.replace('payResult', { id: order.id }); // free: nothing to pay
          return;
        }
        this.setData({
          order: { ...order, amount: yuan(order.amount_fen), time: clock(order.suggested_time) },
        });
        wx.setNavigationBarTitle({ title: '支付挂号费' });
        this.startCountdown();
      } catch (err) {
        if (err.status) this.attemptKey = null;
        const reason = err.body && err.body.reason;
        this.setData({ refusal: messageOf(err), refusalHint: NOT_ELIGIBLE_HINT[reason] || '' });
      } finally {
        this.setData({ submitting: false });
      }
    },
    startCountdown() {
      this.stopCountdown();
      const tick = () => {
        const left = secondsUntil(this.data.order.expires_at);
        this.setData({ countdown: mmss(left), expired: left === 0 });
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
      if (this.data.paying || this.data.expired) return;
      const id = this.data.order.id;
      this.setData({ paying: true });
      // Asked from the tap itself, as WeChat requires; paying goes on whatever the answer.
      subscribe
        .ask(subscribe.MOMENTS.pay)
        .then(() => payOrder(id, this.data.order.amount_fen))
        .then((outcome) => {
          if (outcome === 'cancelled') {
            this.toast('支付未完成，请在倒计时结束前完成支付');
            return;
          }
          this.stopCountdown();
          nav.replace('payResult', { id });
        })
        .catch((err) => this.toast(messageOf(err)))
        .then(() => this.setData({ paying: false }));
    },
  },
});
