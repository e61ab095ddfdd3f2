-- Issue 9 (smaller items): node labels become a JSON object like every other structured column
-- (they were "key=value" lines). Rows already holding JSON (the column's default '{}') stay as they are.
UPDATE nodes SET labels = (
  WITH RECURSIVE split(rest, line) AS (
    SELECT nodes.labels || char(10), NULL
    UNION ALL
    SELECT substr(rest, instr(rest, char(10)) + 1), substr(rest, 1, instr(rest, char(10)) - 1)
    FROM split WHERE rest <> ''
  )
  SELECT COALESCE(json_group_object(substr(line, 1, instr(line, '=') - 1), substr(line, instr(line, '=') + 1)), '{}')
  FROM split WHERE line IS NOT NULL AND instr(line, '=') > 1
) WHERE labels NOT LIKE '{%';
