-- Number 0076 was reserved for a change that never needed a migration, and
-- 0077 shipped first. This empty step fills the gap: migrations apply by
-- set, so a real 0076 landed later would run after 0077 on every database
-- that already has it; the numbers from 0070 on now follow one another
-- (TestMigrationsHaveBothDialects).
SELECT 1;
