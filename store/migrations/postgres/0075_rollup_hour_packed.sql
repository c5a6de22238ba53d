-- Hourly rollups packed a UTC day a row, as the raw results are packed an
-- hour a row: one row a series and day instead of one a series and hour. A
-- row cost ~26 bytes on SQLite and ~118 on PostgreSQL (a tuple's header,
-- pointer and alignment, its primary key), so the hourly rollups were three
-- quarters of a year on PostgreSQL (1.04 of 1.43 GB for 1,000 probes); a
-- packed day is ~230 bytes. data: a version byte (1), a 24-bit big-endian map
-- of the hours present (bit i = hour i of the day), then for each hour
-- present, in order, four unsigned LEB128 varints: runs, runs - successes,
-- duration sum and duration max in microseconds (store/pack.go encodeHours,
-- which reads what this file writes).
CREATE TABLE rollup_hour_packed (
  series BIGINT NOT NULL REFERENCES series(id),
  day    BIGINT NOT NULL,   -- Unix days (UTC)
  data   BYTEA NOT NULL,
  PRIMARY KEY (series, day)
);

-- Every existing hourly rollup moves into its day's packed row: the varints
-- are spelled out in SQL (nine 7-bit groups cover a 63-bit value).
INSERT INTO rollup_hour_packed (series, day, data)
SELECT series, hour / 24, decode('01' || lpad(to_hex(bit_or(1::bigint << (hour % 24)::int)), 6, '0') || string_agg(rec, '' ORDER BY hour), 'hex')
FROM (
  SELECT series, hour,
    (lpad(to_hex(((a >> 0) & 127) | (CASE WHEN a >= 128 THEN 128 ELSE 0 END)), 2, '0')
      || CASE WHEN a >= 128 THEN lpad(to_hex(((a >> 7) & 127) | (CASE WHEN a >= 16384 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN a >= 16384 THEN lpad(to_hex(((a >> 14) & 127) | (CASE WHEN a >= 2097152 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN a >= 2097152 THEN lpad(to_hex(((a >> 21) & 127) | (CASE WHEN a >= 268435456 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN a >= 268435456 THEN lpad(to_hex(((a >> 28) & 127) | (CASE WHEN a >= 34359738368 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN a >= 34359738368 THEN lpad(to_hex(((a >> 35) & 127) | (CASE WHEN a >= 4398046511104 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN a >= 4398046511104 THEN lpad(to_hex(((a >> 42) & 127) | (CASE WHEN a >= 562949953421312 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN a >= 562949953421312 THEN lpad(to_hex(((a >> 49) & 127) | (CASE WHEN a >= 72057594037927936 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN a >= 72057594037927936 THEN lpad(to_hex(((a >> 56) & 127) | 0), 2, '0') ELSE '' END)
    || (lpad(to_hex(((b >> 0) & 127) | (CASE WHEN b >= 128 THEN 128 ELSE 0 END)), 2, '0')
      || CASE WHEN b >= 128 THEN lpad(to_hex(((b >> 7) & 127) | (CASE WHEN b >= 16384 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN b >= 16384 THEN lpad(to_hex(((b >> 14) & 127) | (CASE WHEN b >= 2097152 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN b >= 2097152 THEN lpad(to_hex(((b >> 21) & 127) | (CASE WHEN b >= 268435456 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN b >= 268435456 THEN lpad(to_hex(((b >> 28) & 127) | (CASE WHEN b >= 34359738368 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN b >= 34359738368 THEN lpad(to_hex(((b >> 35) & 127) | (CASE WHEN b >= 4398046511104 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN b >= 4398046511104 THEN lpad(to_hex(((b >> 42) & 127) | (CASE WHEN b >= 562949953421312 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN b >= 562949953421312 THEN lpad(to_hex(((b >> 49) & 127) | (CASE WHEN b >= 72057594037927936 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN b >= 72057594037927936 THEN lpad(to_hex(((b >> 56) & 127) | 0), 2, '0') ELSE '' END)
    || (lpad(to_hex(((c >> 0) & 127) | (CASE WHEN c >= 128 THEN 128 ELSE 0 END)), 2, '0')
      || CASE WHEN c >= 128 THEN lpad(to_hex(((c >> 7) & 127) | (CASE WHEN c >= 16384 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN c >= 16384 THEN lpad(to_hex(((c >> 14) & 127) | (CASE WHEN c >= 2097152 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN c >= 2097152 THEN lpad(to_hex(((c >> 21) & 127) | (CASE WHEN c >= 268435456 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN c >= 268435456 THEN lpad(to_hex(((c >> 28) & 127) | (CASE WHEN c >= 34359738368 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN c >= 34359738368 THEN lpad(to_hex(((c >> 35) & 127) | (CASE WHEN c >= 4398046511104 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN c >= 4398046511104 THEN lpad(to_hex(((c >> 42) & 127) | (CASE WHEN c >= 562949953421312 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN c >= 562949953421312 THEN lpad(to_hex(((c >> 49) & 127) | (CASE WHEN c >= 72057594037927936 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN c >= 72057594037927936 THEN lpad(to_hex(((c >> 56) & 127) | 0), 2, '0') ELSE '' END)
    || (lpad(to_hex(((d >> 0) & 127) | (CASE WHEN d >= 128 THEN 128 ELSE 0 END)), 2, '0')
      || CASE WHEN d >= 128 THEN lpad(to_hex(((d >> 7) & 127) | (CASE WHEN d >= 16384 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN d >= 16384 THEN lpad(to_hex(((d >> 14) & 127) | (CASE WHEN d >= 2097152 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN d >= 2097152 THEN lpad(to_hex(((d >> 21) & 127) | (CASE WHEN d >= 268435456 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN d >= 268435456 THEN lpad(to_hex(((d >> 28) & 127) | (CASE WHEN d >= 34359738368 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN d >= 34359738368 THEN lpad(to_hex(((d >> 35) & 127) | (CASE WHEN d >= 4398046511104 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN d >= 4398046511104 THEN lpad(to_hex(((d >> 42) & 127) | (CASE WHEN d >= 562949953421312 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN d >= 562949953421312 THEN lpad(to_hex(((d >> 49) & 127) | (CASE WHEN d >= 72057594037927936 THEN 128 ELSE 0 END)), 2, '0') ELSE '' END
      || CASE WHEN d >= 72057594037927936 THEN lpad(to_hex(((d >> 56) & 127) | 0), 2, '0') ELSE '' END) AS rec
  FROM (SELECT series, hour, greatest(runs, 0) AS a, greatest(runs - successes, 0) AS b, greatest(duration_sum_us, 0) AS c, greatest(duration_max_us, 0) AS d FROM rollup_hour) v
) h
GROUP BY series, hour / 24;

DROP TABLE rollup_hour;

-- Retention's watermark for the hourly rollups is now a day (every day
-- before it pruned) instead of an hour.
INSERT INTO store_meta (key, value) SELECT 'pruned_rollup_hour_packed', value / 24 FROM store_meta WHERE key = 'pruned_rollup_hour';
DELETE FROM store_meta WHERE key = 'pruned_rollup_hour';
