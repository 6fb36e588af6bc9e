-- When a job was woken while it ran (the first wake of the run; NULL: not woken). Releasing a
-- run that was woken makes the job due again at once instead of at its interval, so a webhook or
-- an event that arrives during a run is not left waiting for the next one.
ALTER TABLE jobs ADD COLUMN woken_at BIGINT;
