/** A department: the 7-day calendar coloured by availability, then the day's doctors and numbers. */
const pageBehavior = require('../../../../behaviors/page');
const catalogue = require('../../../../services/catalogue');
const { AVAILABILITY, AVAILABILITY_LABEL } = require('../../../../constants/index');
const { dayLabel, yuan, dateTime } = require('../../../../utils/format');
const storage = require('../../../../utils/storage');
const nav = require('../../../../utils/nav');

function scheduleView(s) {
  let state = AVAILABILITY_LABEL[s.status];
  if (s.status === AVAILABILITY.AVAILABLE) state = `余 ${s.remaining}`;
  if (s.status === AVAILABILITY.NOT_RELEASED) state = `${dateTime(s.release_at)} 放号`;
  return {
    ...s,
    fee: yuan(s.fee_fen),
    state,
    bookable: s.status === AVAILABILITY.AVAILABLE,
  };
}

Component({
  behaviors: [pageBehavior],
  data: {
    department: null,
    days: [],
    date: '',
    schedules: [],
    schedulesLoading: false,
    schedulesError: '',
  },
  methods: {
    onLoad(query) {
      const department = {
        id: Number(query.id),
        name: query.name || '科室',
        hospital_id: Number(query.hospital_id),
        hospital_name: query.hospital_name || '',
      };
      this.setData({ department });
      wx.setNavigationBarTitle({ title: department.name });
      if (department.hospital_name) storage.rememberVisit(department);
      this.load();
    },
    load() {
      return this.guard(async () => {
        const calendar = await catalogue.getCalendar(this.data.department.id, 7);
        const days = calendar.map((d) => ({
          ...d,
          ...dayLabel(d.date),
          label: AVAILABILITY_LABEL[d.status],
        }));
        const first = days.find((d) => d.status === AVAILABILITY.AVAILABLE) || days[0];
        this.setData({ days });
        if (first) await this.loadDay(first.date);
      });
    },
    async loadDay(date) {
      this.setData({ date, schedulesLoading: true, schedulesError: '', schedules: [] });
      try {
        const list = await catalogue.getSchedules(this.data.department.id, date);
        this.setData({ schedules: list.map(scheduleView) });
      } catch (err) {
        this.setData({ schedulesError: err.message });
      } finally {
        this.setData({ schedulesLoading: false });
      }
    },
    onDay(e) {
      this.loadDay(e.currentTarget.dataset.date);
    },
    reloadDay() {
      return this.loadDay(this.data.date);
    },
    onSchedule(e) {
      const schedule = this.data.schedules[e.currentTarget.dataset.index];
      if (this.data.elder && schedule.bookable) {
        this.book(schedule);
        return;
      }
      nav.go('doctor', { id: schedule.doctor.id });
    },
    onBook(e) {
      this.book(this.data.schedules[e.currentTarget.dataset.index]);
    },
    book(schedule) {
      if (!schedule.bookable) {
        this.toast(schedule.status === AVAILABILITY.FULL ? '该时段号源已约满' : schedule.state);
        return;
      }
      nav.go('confirm', {
        schedule_id: schedule.id,
        department_id: this.data.department.id,
        date: schedule.date,
      });
    },
  },
});
