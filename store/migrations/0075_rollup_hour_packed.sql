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
  series INTEGER NOT NULL REFERENCES series(id),
  day    INTEGER NOT NULL,   -- Unix days (UTC)
  data   BLOB NOT NULL,
  PRIMARY KEY (series, day)
) WITHOUT ROWID;

-- Every existing hourly rollup moves into its day's packed row: the varints
-- are spelled out in SQL (nine 7-bit groups cover a 63-bit value).
INSERT INTO rollup_hour_packed (series, day, data)
SELECT series, hour / 24, unhex('01' || printf('%06x', sum(1 << (hour % 24))) || group_concat(rec, '' ORDER BY hour))
FROM (
  SELECT series, hour,
    (printf('%02x', ((a >> 0) & 127) | (CASE WHEN a >= 128 THEN 128 ELSE 0 END))
      || CASE WHEN a >= 128 THEN printf('%02x', ((a >> 7) & 127) | (CASE WHEN a >= 16384 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN a >= 16384 THEN printf('%02x', ((a >> 14) & 127) | (CASE WHEN a >= 2097152 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN a >= 2097152 THEN printf('%02x', ((a >> 21) & 127) | (CASE WHEN a >= 268435456 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN a >= 268435456 THEN printf('%02x', ((a >> 28) & 127) | (CASE WHEN a >= 34359738368 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN a >= 34359738368 THEN printf('%02x', ((a >> 35) & 127) | (CASE WHEN a >= 4398046511104 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN a >= 4398046511104 THEN printf('%02x', ((a >> 42) & 127) | (CASE WHEN a >= 562949953421312 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN a >= 562949953421312 THEN printf('%02x', ((a >> 49) & 127) | (CASE WHEN a >= 72057594037927936 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN a >= 72057594037927936 THEN printf('%02x', ((a >> 56) & 127) | 0) ELSE '' END)
    || (printf('%02x', ((b >> 0) & 127) | (CASE WHEN b >= 128 THEN 128 ELSE 0 END))
      || CASE WHEN b >= 128 THEN printf('%02x', ((b >> 7) & 127) | (CASE WHEN b >= 16384 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN b >= 16384 THEN printf('%02x', ((b >> 14) & 127) | (CASE WHEN b >= 2097152 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN b >= 2097152 THEN printf('%02x', ((b >> 21) & 127) | (CASE WHEN b >= 268435456 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN b >= 268435456 THEN printf('%02x', ((b >> 28) & 127) | (CASE WHEN b >= 34359738368 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN b >= 34359738368 THEN printf('%02x', ((b >> 35) & 127) | (CASE WHEN b >= 4398046511104 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN b >= 4398046511104 THEN printf('%02x', ((b >> 42) & 127) | (CASE WHEN b >= 562949953421312 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN b >= 562949953421312 THEN printf('%02x', ((b >> 49) & 127) | (CASE WHEN b >= 72057594037927936 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN b >= 72057594037927936 THEN printf('%02x', ((b >> 56) & 127) | 0) ELSE '' END)
    || (printf('%02x', ((c >> 0) & 127) | (CASE WHEN c >= 128 THEN 128 ELSE 0 END))
      || CASE WHEN c >= 128 THEN printf('%02x', ((c >> 7) & 127) | (CASE WHEN c >= 16384 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN c >= 16384 THEN printf('%02x', ((c >> 14) & 127) | (CASE WHEN c >= 2097152 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN c >= 2097152 THEN printf('%02x', ((c >> 21) & 127) | (CASE WHEN c >= 268435456 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN c >= 268435456 THEN printf('%02x', ((c >> 28) & 127) | (CASE WHEN c >= 34359738368 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN c >= 34359738368 THEN printf('%02x', ((c >> 35) & 127) | (CASE WHEN c >= 4398046511104 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN c >= 4398046511104 THEN printf('%02x', ((c >> 42) & 127) | (CASE WHEN c >= 562949953421312 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN c >= 562949953421312 THEN printf('%02x', ((c >> 49) & 127) | (CASE WHEN c >= 72057594037927936 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN c >= 72057594037927936 THEN printf('%02x', ((c >> 56) & 127) | 0) ELSE '' END)
    || (printf('%02x', ((d >> 0) & 127) | (CASE WHEN d >= 128 THEN 128 ELSE 0 END))
      || CASE WHEN d >= 128 THEN printf('%02x', ((d >> 7) & 127) | (CASE WHEN d >= 16384 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN d >= 16384 THEN printf('%02x', ((d >> 14) & 127) | (CASE WHEN d >= 2097152 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN d >= 2097152 THEN printf('%02x', ((d >> 21) & 127) | (CASE WHEN d >= 268435456 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN d >= 268435456 THEN printf('%02x', ((d >> 28) & 127) | (CASE WHEN d >= 34359738368 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN d >= 34359738368 THEN printf('%02x', ((d >> 35) & 127) | (CASE WHEN d >= 4398046511104 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN d >= 4398046511104 THEN printf('%02x', ((d >> 42) & 127) | (CASE WHEN d >= 562949953421312 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN d >= 562949953421312 THEN printf('%02x', ((d >> 49) & 127) | (CASE WHEN d >= 72057594037927936 THEN 128 ELSE 0 END)) ELSE '' END
      || CASE WHEN d >= 72057594037927936 THEN printf('%02x', ((d >> 56) & 127) | 0) ELSE '' END) AS rec
  FROM (SELECT series, hour, max(runs, 0) AS a, max(runs - successes, 0) AS b, max(duration_sum_us, 0) AS c, max(duration_max_us, 0) AS d FROM rollup_hour) v
) h
GROUP BY series, hour / 24;

DROP TABLE rollup_hour;

-- Retention's watermark for the hourly rollups is now a day (every day
-- before it pruned) instead of an hour.
INSERT INTO store_meta (key, value) SELECT 'pruned_rollup_hour_packed', value / 24 FROM store_meta WHERE key = 'pruned_rollup_hour';
DELETE FROM store_meta WHERE key = 'pruned_rollup_hour';
