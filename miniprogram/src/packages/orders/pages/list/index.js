/** My orders, by status tab. */
const pageBehavior = require('../../../../behaviors/page');
const orders = require('../../../../services/orders');
const { ORDER_TABS } = require('../../../../constants/index');
const { yuan, clock } = require('../../../../utils/format');
const nav = require('../../../../utils/nav');

function view(o) {
  return { ...o, amount: yuan(o.amount_fen), time: clock(o.suggested_time) };
}

Component({
  behaviors: [pageBehavior],
  data: {
    tabs: ORDER_TABS,
    status: '',
    orders: [],
    page: 1,
    total: 0,
    loadingMore: false,
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
        this.setData({ orders: page.items.map(view), page: 1, total: page.total });
      });
    },
    /** The next page, when the list is scrolled to its end. */
    async onReachBottom() {
      if (this.data.loadingMore || this.data.orders.length >= this.data.total) return;
      this.setData({ loadingMore: true });
      try {
        const next = await orders.listOrders(this.data.status, this.data.page + 1);
        this.setData({
          orders: this.data.orders.concat(next.items.map(view)),
          page: next.page,
          total: next.total,
        });
      } catch (err) {
        this.toast(err.message);
      } finally {
        this.setData({ loadingMore: false });
      }
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
