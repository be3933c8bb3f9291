-- A report's `score` is any integer a client sends (Synapse checks only that it is one; the spec
-- dropped the field in v1.18 and gave -100..0 before): keep every canonical-JSON integer.
ALTER TABLE event_reports ALTER COLUMN score TYPE BIGINT;
