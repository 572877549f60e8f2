"""Use cases: each public function is one thing a patient, staff member or job does."""
