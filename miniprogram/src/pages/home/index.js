/** Home: search box (hospital, department, doctor or symptom), recent visits, hospitals. */
const pageBehavior = require('../../behaviors/page');
const catalogue = require('../../services/catalogue');
const storage = require('../../utils/storage');
const nav = require('../../utils/nav');

const SYMPTOMS = ['咳嗽', '发烧', '腹痛', '头晕', '牙痛', '皮疹'];

Component({
  behaviors: [pageBehavior],
  data: {
    q: '',
    symptoms: SYMPTOMS,
    hospitals: [],
    recent: [],
  },
  methods: {
    onLoad() {
      this.load();
    },
    onShow() {
      this.refreshElder();
      this.setData({ recent: storage.recentVisits() });
    },
    onPullDownRefresh() {
      this.load().then(() => wx.stopPullDownRefresh());
    },
    load() {
      return this.guard(async () => {
        const page = await catalogue.listHospitals({ per_page: 20 });
        this.setData({ hospitals: page.items });
      });
    },
    onInput(e) {
      this.setData({ q: e.detail.value });
    },
    onSearch() {
      const q = this.data.q.trim();
      if (!q) {
        this.toast('请输入医院、科室、医生或症状');
        return;
      }
      nav.go('search', { q });
    },
    onSymptom(e) {
      nav.go('search', { q: e.currentTarget.dataset.q });
    },
    openHospital(e) {
      nav.go('hospital', { id: e.currentTarget.dataset.id });
    },
    openRecent(e) {
      const visit = this.data.recent[e.currentTarget.dataset.index];
      nav.go('department', {
        id: visit.id,
        name: visit.name,
        hospital_id: visit.hospital_id,
        hospital_name: visit.hospital_name,
      });
    },
    openOrders() {
      nav.go('orders');
    },
    openFamily() {
      nav.go('family');
    },
  },
});
