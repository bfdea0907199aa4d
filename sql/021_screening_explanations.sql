-- Why each screening hit scored as it did, as data (the reasons column keeps it in words): the
-- name's score, its word pairs and the words left unpaired, each list field both sides had and
-- what it added or took. The customer's own name as written is not stored here (subject_id says
-- whose it is). Null for hits recorded before this column.
alter table screening_hits add column explanation jsonb;
