"""arq worker, cron schedules, job functions and the outbox sender."""
