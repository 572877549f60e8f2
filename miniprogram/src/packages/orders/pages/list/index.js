/** My orders, by status tab. */
const pageBehavior = require('../../../../behaviors/page');
const orders = require('../../../../services/orders');
const { ORDER_TABS } = require('../../../../constants/index');
const { yuan, clock } = require('../../../../utils/format');
const nav = require('../../../../utils/nav');

Component({
  behaviors: [pageBehavior],
  data: {
    tabs: ORDER_TABS,
    status: '',
    orders: [],
  },
  methods: {
    onLoad(query) {
      this.setData({ status: query.status || '' });
    },
    onShow() {
      this.load();
    },
    load() {
      return this.guard(async () => {
        const page = await orders.listOrders(this.data.status);
        this.setData({
          orders: page.items.map((o) => ({
            ...o,
            amount: yuan(o.amount_fen),
            time: clock(o.suggested_time),
          })),
        });
      });
    },
    onTab(e) {
      this.setData({ status: e.currentTarget.dataset.status });
      this.load();
    },
    openOrder(e) {
      nav.go('orderDetail', { id: e.currentTarget.dataset.id });
    },
  },
});
