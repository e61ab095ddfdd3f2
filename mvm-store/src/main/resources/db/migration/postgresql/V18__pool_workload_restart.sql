-- Whether a pool's instances get their VM restarted when the workload exits (services and daemons
-- of /vms; pools that ask for it). 0: never (the behaviour before this column), 1: on exit.
ALTER TABLE pools ADD COLUMN restart_workload INTEGER NOT NULL DEFAULT 0;
