/** Reschedule: move the order to another time of the same doctor at the same fee. */
const pageBehavior = require('../../../../behaviors/page');
const orders = require('../../../../services/orders');
const catalogue = require('../../../../services/catalogue');
const { messageOf } = require('../../../../services/request');
const { AVAILABILITY } = require('../../../../constants/index');
const { dayLabel, yuan } = require('../../../../utils/format');
const nav = require('../../../../utils/nav');

Component({
  behaviors: [pageBehavior],
  data: {
    order: null,
    options: [],
    busy: false,
  },
  methods: {
    onLoad(query) {
      this.orderId = Number(query.id);
      this.load();
    },
    load() {
      return this.guard(async () => {
        const order = await orders.getOrder(this.orderId);
        const schedules = await catalogue.getDoctorSchedules(order.doctor.id, 7);
        const options = schedules
          .filter(
            (s) =>
              s.id !== order.schedule_id &&
              s.status === AVAILABILITY.AVAILABLE &&
              s.fee_fen === order.amount_fen,
          )
          .map((s) => {
            const day = dayLabel(s.date);
            return {
              ...s,
              label: `${day.day} ${day.weekday} ${s.period_name} ${s.start_time}-${s.end_time}`,
            };
          });
        this.setData({ order: { ...order, amount: yuan(order.amount_fen) }, options });
      });
    },
    onOption(e) {
      const option = this.data.options[e.currentTarget.dataset.index];
      wx.showModal({
        title: '确认改约',
        content: `改约到 ${option.label}？改约后原号源将释放。`,
        success: (res) => {
          if (res.confirm) this.reschedule(option);
        },
      });
    },
    async reschedule(option) {
      this.setData({ busy: true });
      try {
        await orders.rescheduleOrder(this.orderId, option.id);
        this.toast('改约成功');
        nav.replace('orderDetail', { id: this.orderId });
      } catch (err) {
        this.toast(messageOf(err));
      } finally {
        this.setData({ busy: false });
      }
    },
  },
});
