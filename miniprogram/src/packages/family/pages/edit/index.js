/**
 * Add or edit a family member. The server checks the ID number (居民身份证 check digit, birth
 * date) and answers 422 invalid_id_number with a reason: its message is shown by the field.
 * An existing member's document cannot change (remove and add again).
 */
const pageBehavior = require('../../../../behaviors/page');
const patients = require('../../../../services/patients');
const { messageOf } = require('../../../../services/request');
const { RELATIONSHIP, ID_TYPE, SEX } = require('../../../../constants/index');
const { chinaDate } = require('../../../../utils/format');

const EMPTY = {
  name: '',
  id_type: 'resident_id',
  id_number: '',
  relationship: 'self',
  phone: '',
  sex: '',
  birth_date: '',
  insured: false,
};

Component({
  behaviors: [pageBehavior],
  data: {
    editing: false,
    form: { ...EMPTY },
    masked: '',
    relationships: RELATIONSHIP,
    idTypes: ID_TYPE,
    sexes: SEX,
    relationshipIndex: 0,
    idTypeIndex: 0,
    sexIndex: -1,
    errors: {},
    formError: '',
    saving: false,
    today: '',
  },
  methods: {
    onLoad(query) {
      // The server refuses a birth date after today or before 1900: the picker offers neither.
      this.setData({ today: chinaDate(new Date()) });
      this.patientId = query.id ? Number(query.id) : null;
      if (!this.patientId) {
        this.setData({ loading: false });
        return;
      }
      wx.setNavigationBarTitle({ title: '编辑就诊人' });
      this.setData({ editing: true });
      this.load();
    },
    load() {
      return this.guard(async () => {
        const p = await patients.getPatient(this.patientId);
        this.setData({
          form: {
            ...EMPTY,
            name: p.name,
            relationship: p.relationship,
            insured: p.insured,
            id_type: p.id_type,
          },
          masked: `${p.id_type_name} ${p.id_number_masked}`,
          relationshipIndex: Math.max(
            0,
            RELATIONSHIP.findIndex((r) => r.value === p.relationship),
          ),
        });
      });
    },
    onField(e) {
      const field = e.currentTarget.dataset.field;
      this.setData({ [`form.${field}`]: e.detail.value, [`errors.${field}`]: '' });
    },
    onRelationship(e) {
      const index = Number(e.detail.value);
      this.setData({ relationshipIndex: index, 'form.relationship': RELATIONSHIP[index].value });
    },
    onIdType(e) {
      const index = Number(e.detail.value);
      this.setData({
        idTypeIndex: index,
        'form.id_type': ID_TYPE[index].value,
        'errors.id_number': '',
      });
    },
    onSex(e) {
      const index = Number(e.detail.value);
      this.setData({ sexIndex: index, 'form.sex': SEX[index].value });
    },
    onInsured(e) {
      this.setData({ 'form.insured': e.detail.value });
    },
    /** What can be said before asking the server. */
    check() {
      const f = this.data.form;
      const errors = {};
      if (!f.name.trim()) errors.name = '请填写真实姓名';
      if (!this.data.editing && !f.id_number.trim()) errors.id_number = '请填写证件号码';
      if (f.phone && !/^1\d{10}$/.test(f.phone)) errors.phone = '请填写 11 位手机号';
      return errors;
    },
    async onSave() {
      if (this.data.saving) return;
      const errors = this.check();
      this.setData({ errors, formError: '' });
      if (Object.keys(errors).length) return;
      const f = this.data.form;
      const body = { name: f.name.trim(), relationship: f.relationship, insured: f.insured };
      if (f.phone) body.phone = f.phone;
      this.setData({ saving: true });
      try {
        if (this.data.editing) {
          await patients.updatePatient(this.patientId, body);
        } else {
          Object.assign(body, { id_type: f.id_type, id_number: f.id_number.trim().toUpperCase() });
          if (f.id_type !== 'resident_id') {
            if (f.sex) body.sex = f.sex;
            if (f.birth_date) body.birth_date = f.birth_date;
          }
          await patients.addPatient(body);
        }
        this.toast('已保存');
        wx.navigateBack();
      } catch (err) {
        this.showError(err);
      } finally {
        this.setData({ saving: false });
      }
    },
    showError(err) {
      if (err.code === 'invalid_id_number') {
        this.setData({ 'errors.id_number': err.message });
        return;
      }
      if (err.errors) {
        const errors = {};
        Object.keys(err.errors).forEach((field) => {
          errors[field] = [].concat(err.errors[field]).join('；');
        });
        this.setData({ errors, formError: err.message });
        return;
      }
      this.setData({ formError: messageOf(err) });
    },
  },
});
