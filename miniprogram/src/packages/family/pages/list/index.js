/** Family members (就诊人): masked IDs, add (up to 5), edit, delete. */
const pageBehavior = require('../../../../behaviors/page');
const patients = require('../../../../services/patients');
const { messageOf } = require('../../../../services/request');
const nav = require('../../../../utils/nav');

const MAX_PATIENTS = 5;

Component({
  behaviors: [pageBehavior],
  data: {
    patients: [],
    max: MAX_PATIENTS,
  },
  methods: {
    onShow() {
      this.load();
    },
    load() {
      return this.guard(async () => {
        const page = await patients.listPatients();
        this.setData({ patients: page.items });
      });
    },
    onAdd() {
      if (this.data.patients.length >= MAX_PATIENTS) {
        this.toast(`最多添加 ${MAX_PATIENTS} 位就诊人`);
        return;
      }
      nav.go('familyEdit');
    },
    onEdit(e) {
      nav.go('familyEdit', { id: e.currentTarget.dataset.id });
    },
    onDelete(e) {
      const patient = this.data.patients[e.currentTarget.dataset.index];
      wx.showModal({
        title: '删除就诊人',
        content: `确定删除就诊人「${patient.name}」吗？`,
        confirmColor: '#b42318',
        success: async (res) => {
          if (!res.confirm) return;
          try {
            await patients.removePatient(patient.id);
            this.toast('已删除');
            await this.load();
          } catch (err) {
            this.toast(messageOf(err));
          }
        },
      });
    },
  },
});
