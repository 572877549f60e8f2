/** Family members (就诊人): /patients. */

const api = require('./request');

/** GET /patients → {items, page, per_page, total}; ID numbers come masked. */
function listPatients() {
  return api.get('/patients', { per_page: 20 });
}

/** GET /patients/{id}. */
function getPatient(id) {
  return api.get(`/patients/${id}`);
}

/**
 * POST /patients {name, id_type, id_number, relationship, phone?, sex?, birth_date?, insured?}.
 * Refusals: 422 invalid_id_number (+reason), 409 patient_limit / duplicate_patient / self_exists.
 */
function addPatient(patient) {
  return api.post('/patients', patient);
}

/** PATCH /patients/{id} {name?, phone?, relationship?, insured?, medical_card_no?}. */
function updatePatient(id, changes) {
  return api.patch(`/patients/${id}`, changes);
}

/** DELETE /patients/{id} (204). */
function removePatient(id) {
  return api.del(`/patients/${id}`);
}

module.exports = { listPatients, getPatient, addPatient, updatePatient, removePatient };
