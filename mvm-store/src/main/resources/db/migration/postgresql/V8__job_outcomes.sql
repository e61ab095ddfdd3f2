-- Round 5: a job with the "job" lifecycle runs its command once. When its workload has exited,
-- the coordinator records how it ended (exit code, the tail of its console output, when) here,
-- and its VM is destroyed; the job row stays, so the outcome can be read.
ALTER TABLE vm_jobs ADD COLUMN finished_at BIGINT;
ALTER TABLE vm_jobs ADD COLUMN exit_code INTEGER;
ALTER TABLE vm_jobs ADD COLUMN output_tail TEXT;
