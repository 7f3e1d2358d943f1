-- Whole email addresses among the directory's search terms now start with '@', so a typed
-- name word no longer ranges over every address that begins with it.
UPDATE member_search_terms SET term = '@' || term WHERE term LIKE '%@%' AND term NOT LIKE '@%';
