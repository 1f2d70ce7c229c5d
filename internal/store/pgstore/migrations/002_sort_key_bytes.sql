-- Sort keys are compared byte by byte and may hold bytes that are not
-- UTF-8 (a cursor past every key with a prefix ends in 0xFF), which TEXT
-- refuses. BYTEA orders the same way SQLite's text does.
ALTER TABLE resources ALTER COLUMN sort_key TYPE BYTEA USING convert_to(sort_key, 'UTF8');
