/** A doctor: profile, fee and the schedules of the coming days. */
const pageBehavior = require('../../../../behaviors/page');
const catalogue = require('../../../../services/catalogue');
const { AVAILABILITY, AVAILABILITY_LABEL } = require('../../../../constants/index');
const { dayLabel, yuan, dateTime } = require('../../../../utils/format');
const nav = require('../../../../utils/nav');

Component({
  behaviors: [pageBehavior],
  data: {
    doctor: null,
    fee: '',
    schedules: [],
  },
  methods: {
    onLoad(query) {
      this.doctorId = Number(query.id);
      this.load();
    },
    load() {
      return this.guard(async () => {
        const [doctor, schedules] = await Promise.all([
          catalogue.getDoctor(this.doctorId),
          catalogue.getDoctorSchedules(this.doctorId, 7),
        ]);
        this.setData({
          doctor,
          fee: yuan(doctor.fee_fen),
          schedules: schedules.map((s) => {
            const day = dayLabel(s.date);
            let state = AVAILABILITY_LABEL[s.status];
            if (s.status === AVAILABILITY.AVAILABLE) state = `余 ${s.remaining}`;
            if (s.status === AVAILABILITY.NOT_RELEASED) state = `${dateTime(s.release_at)} 放号`;
            return {
              ...s,
              day: `${day.day} ${day.weekday}`,
              state,
              bookable: s.status === AVAILABILITY.AVAILABLE,
            };
          }),
        });
      });
    },
    onSchedule(e) {
      const s = this.data.schedules[e.currentTarget.dataset.index];
      if (!s.bookable) {
        this.toast(s.status === AVAILABILITY.FULL ? '该时段号源已约满' : s.state);
        return;
      }
      nav.go('confirm', {
        schedule_id: s.id,
        department_id: this.data.doctor.department.id,
        date: s.date,
      });
    },
  },
});
