// HTTP import jobs (dibx.graph.import_jobs): a job by its id, the jobs waiting or running
// (claimed by any API process), a nation's jobs newest first; the stored body and the kept
// rejects by their job; one slot per (nation, org) serialises submissions of that org.
CREATE CONSTRAINT import_job_id IF NOT EXISTS FOR (j:ImportJob) REQUIRE j.id IS UNIQUE;
CREATE INDEX import_job_state IF NOT EXISTS FOR (j:ImportJob) ON (j.state);
CREATE INDEX import_job_slot IF NOT EXISTS FOR (j:ImportJob) ON (j.slot);
CREATE INDEX import_job_nation IF NOT EXISTS FOR (j:ImportJob) ON (j.nation, j.created);
CREATE INDEX import_chunk_job IF NOT EXISTS FOR (c:ImportChunk) ON (c.job);
CREATE INDEX import_reject_job IF NOT EXISTS FOR (r:ImportReject) ON (r.job);
CREATE CONSTRAINT import_slot_key IF NOT EXISTS FOR (s:ImportSlot) REQUIRE s.key IS UNIQUE;
