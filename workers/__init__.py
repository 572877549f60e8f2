"""Background jobs, run by RQ inside the app context. Jobs take ids and re-load what they need."""
