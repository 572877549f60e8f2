/**
 * What every page shares: the elder-mode flag, the loading / error state of its first load,
 * and a toast. Pages are built with Component(), so this is a behavior.
 */

const storage = require('../utils/storage');
const { messageOf } = require('../services/request');

module.exports = Behavior({
  data: {
    elder: false,
    loading: true,
    error: '',
  },
  lifetimes: {
    attached() {
      this.setData({ elder: storage.isElder() });
    },
  },
  methods: {
    /** Re-read the elder-mode preference (tab pages call it when shown again). */
    refreshElder() {
      const elder = storage.isElder();
      if (elder !== this.data.elder) this.setData({ elder });
    },

    /** Run the page's loader with the loading / error state around it. */
    async guard(loader) {
      this.setData({ loading: true, error: '' });
      try {
        await loader();
      } catch (err) {
        this.setData({ error: messageOf(err) });
      } finally {
        this.setData({ loading: false });
      }
    },

    toast(title) {
      wx.showToast({ title, icon: 'none', duration: 2500 });
    },
  },
});
