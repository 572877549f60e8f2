/** A hospital: introduction, notices and booking rules, and its department tree. */
const pageBehavior = require('../../../../behaviors/page');
const catalogue = require('../../../../services/catalogue');
const nav = require('../../../../utils/nav');

function eligibilityText(rule) {
  const parts = [];
  if (rule.sex === 'female') parts.push('仅限女性');
  if (rule.sex === 'male') parts.push('仅限男性');
  if (rule.min_age !== null && rule.min_age !== undefined) parts.push(`${rule.min_age}岁及以上`);
  if (rule.max_age !== null && rule.max_age !== undefined) parts.push(`${rule.max_age}岁及以下`);
  return parts.join('，');
}

function node(department) {
  return {
    id: department.id,
    name: department.name,
    location: department.location,
    rule: eligibilityText(department.eligibility || {}),
    children: (department.children || []).map(node),
  };
}

/** The notices a patient must read before booking, from the hospital's booking rules. */
function notices(rules) {
  return [
    `每日 ${rules.release_time} 放号，可预约未来 ${rules.booking_window_days} 天内的号源。`,
    `挂号后请在 ${rules.hold_minutes} 分钟内完成支付，超时号源将自动释放。`,
    '请按建议到院时间就诊，凭电子凭证二维码签到。',
    '如遇停诊，医院将通知您并全额退款。',
  ];
}

Component({
  behaviors: [pageBehavior],
  data: {
    hospital: null,
    notices: [],
    departments: [],
    openId: null,
  },
  methods: {
    onLoad(query) {
      this.hospitalId = Number(query.id);
      this.load();
    },
    load() {
      return this.guard(async () => {
        const [hospital, tree] = await Promise.all([
          catalogue.getHospital(this.hospitalId),
          catalogue.getDepartments(this.hospitalId),
        ]);
        wx.setNavigationBarTitle({ title: hospital.name });
        this.setData({
          hospital,
          notices: notices(hospital.booking_rules),
          departments: tree.map(node),
        });
      });
    },
    toggle(e) {
      const id = e.currentTarget.dataset.id;
      const top = this.data.departments.find((d) => d.id === id);
      if (top && !top.children.length) {
        this.openDepartment(top);
        return;
      }
      this.setData({ openId: this.data.openId === id ? null : id });
    },
    onChild(e) {
      const { parent, index } = e.currentTarget.dataset;
      const top = this.data.departments.find((d) => d.id === parent);
      this.openDepartment(top.children[index]);
    },
    openDepartment(department) {
      nav.go('department', {
        id: department.id,
        name: department.name,
        hospital_id: this.data.hospital.id,
        hospital_name: this.data.hospital.name,
      });
    },
    call() {
      wx.makePhoneCall({ phoneNumber: this.data.hospital.phone });
    },
  },
});
