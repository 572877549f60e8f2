"""Infrastructure under the services: the database's and Redis's habits, the read cache, the
booking gate, rate limits, job enqueueing, field encryption and group commit."""
