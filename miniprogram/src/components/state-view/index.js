/** The loading, error (with a retry button) and empty states of a page or a list. */
Component({
  properties: {
    loading: { type: Boolean, value: false },
    error: { type: String, value: '' },
    empty: { type: Boolean, value: false },
    emptyText: { type: String, value: '暂无数据' },
  },
  methods: {
    retry() {
      this.triggerEvent('retry');
    },
  },
});
