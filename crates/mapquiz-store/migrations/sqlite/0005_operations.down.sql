DROP TABLE job_leases;
DROP TABLE audit_log;
DROP TABLE bug_reports;
