/** Search results: hospitals, departments (also by symptom: 咳嗽 → 呼吸内科) and doctors. */
const pageBehavior = require('../../behaviors/page');
const catalogue = require('../../services/catalogue');
const nav = require('../../utils/nav');

Component({
  behaviors: [pageBehavior],
  data: {
    q: '',
    hospitals: [],
    departments: [],
    doctors: [],
    empty: false,
  },
  methods: {
    onLoad(query) {
      this.setData({ q: query.q || '' });
      this.load();
    },
    load() {
      const q = this.data.q.trim();
      if (!q) {
        this.setData({ loading: false, empty: true });
        return Promise.resolve();
      }
      return this.guard(async () => {
        const found = await catalogue.search(q);
        this.setData({
          hospitals: found.hospitals,
          departments: found.departments.map((d) => ({
            ...d,
            symptomsText: (d.matched_symptoms || []).join('、'),
          })),
          doctors: found.doctors,
          empty: !found.hospitals.length && !found.departments.length && !found.doctors.length,
        });
      });
    },
    onInput(e) {
      this.setData({ q: e.detail.value });
    },
    onSearch() {
      this.load();
    },
    openHospital(e) {
      nav.go('hospital', { id: e.currentTarget.dataset.id });
    },
    openDepartment(e) {
      const d = this.data.departments[e.currentTarget.dataset.index];
      nav.go('department', {
        id: d.id,
        name: d.name,
        hospital_id: d.hospital_id,
        hospital_name: d.hospital_name,
      });
    },
    openDoctor(e) {
      nav.go('doctor', { id: e.currentTarget.dataset.id });
    },
  },
});
