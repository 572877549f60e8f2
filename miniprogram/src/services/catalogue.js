/** The catalogue: hospitals, departments, doctors, schedules, search. No sign-in needed. */

const api = require('./request');

const PUBLIC = { auth: false };

/** GET /hospitals?q=&level=&region=&page=&per_page= → {items, page, per_page, total}. */
function listHospitals(query = {}) {
  return api.get('/hospitals', query, PUBLIC);
}

/** GET /hospitals/{id} → the hospital with intro and booking_rules. */
function getHospital(id) {
  return api.get(`/hospitals/${id}`, undefined, PUBLIC);
}

/** GET /hospitals/{id}/departments → the department tree (eligibility, symptoms, children). */
function getDepartments(hospitalId) {
  return api.get(`/hospitals/${hospitalId}/departments`, undefined, PUBLIC);
}

/** GET /departments/{id}/calendar?start=&days= → [{date, status, total, remaining}]. */
function getCalendar(departmentId, days = 7, start) {
  const query = start ? { start, days } : { days };
  return api.get(`/departments/${departmentId}/calendar`, query, PUBLIC);
}

/** GET /departments/{id}/schedules?date= → schedules of that day with numbers left. */
function getSchedules(departmentId, date) {
  return api.get(`/departments/${departmentId}/schedules`, { date }, PUBLIC);
}

/** GET /doctors/{id} → the doctor with intro, fee and department. */
function getDoctor(id) {
  return api.get(`/doctors/${id}`, undefined, PUBLIC);
}

/** GET /doctors/{id}/schedules?days= → the doctor's schedules. */
function getDoctorSchedules(id, days = 7) {
  return api.get(`/doctors/${id}/schedules`, { days }, PUBLIC);
}

/** GET /search?q= → {hospitals, departments (by name or symptom), doctors}. */
function search(q) {
  return api.get('/search', { q }, PUBLIC);
}

module.exports = {
  listHospitals,
  getHospital,
  getDepartments,
  getCalendar,
  getSchedules,
  getDoctor,
  getDoctorSchedules,
  search,
};
