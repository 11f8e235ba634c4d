"""Infrastructure: the database engines and sessions, the Redis connection, the job queue."""
