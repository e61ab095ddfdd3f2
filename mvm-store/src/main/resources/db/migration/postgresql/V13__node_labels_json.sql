-- Issue 9 (smaller items): node labels become a JSON object like every other structured column
-- (they were "key=value" lines). Rows already holding JSON (the column's default '{}') stay as they are.
UPDATE nodes SET labels = COALESCE((
  SELECT json_object_agg(split_part(line, '=', 1), substr(line, strpos(line, '=') + 1))::text
  FROM regexp_split_to_table(nodes.labels, E'\n') AS line
  WHERE strpos(line, '=') > 1
), '{}') WHERE labels NOT LIKE '{%';
