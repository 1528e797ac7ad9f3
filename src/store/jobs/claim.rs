//! The claim's statement text: which waiting jobs a worker may take, and the completion
//! that hands a worker its next job in the same statement. Only text lives here; running it
//! (and filling `{index}`, `{lock}` and `{limit}` per backend) is `Store::dialect`'s and the
//! callers' job.

/// The next jobs a worker may take, at most `{limit}`: runnable, no job with their key
/// running, their kind and their lane under their concurrency bounds (`lanes.max_running`),
/// in claim order. `{index}` and `{lock}` are filled per backend (see `Store::dialect`).
///
/// Every check reads `running_jobs` (one row per running job, kept by triggers; migration
/// 0040), never `jobs`: on PostgreSQL an index of `jobs` restricted to running rows still
/// holds an entry for every job that finished since the last vacuum, and the old check read
/// them all, so a claim cost more with every job done. A bound is counted only for a kind or
/// lane that has one (`CASE` evaluates in order). The key check is a scalar subquery, not
/// `NOT EXISTS`, on purpose: PostgreSQL may turn `NOT EXISTS` into a hash anti join over
/// every waiting job, or a hashed subplan that reads all of `running_jobs` (and its dead
/// rows) once per claim; a scalar subquery stays one index probe per candidate, and the
/// candidates are read in claim order from `jobs_runnable` until `LIMIT` is met. Within one
/// batch, the window ranks keep the same rules: one job per key, and no more jobs of a kind
/// or lane than it has room for.
macro_rules! candidates {
    ($limit:literal) => {
        concat!(
            "SELECT c.id FROM ( \
               SELECT c.id, c.coalesce_key, c.lane, c.kind_room, c.lane_room, \
                 ROW_NUMBER() OVER (PARTITION BY c.coalesce_key ORDER BY c.priority, c.run_at, c.id) AS key_rank, \
                 ROW_NUMBER() OVER (PARTITION BY c.kind ORDER BY c.priority, c.run_at, c.id) AS kind_rank, \
                 ROW_NUMBER() OVER (PARTITION BY c.lane ORDER BY c.priority, c.run_at, c.id) AS lane_rank \
               FROM ( \
                 SELECT j.id, j.coalesce_key, j.kind, j.lane, j.priority, j.run_at, ",
            room!("kind"),
            " AS kind_room, ",
            room!("lane"),
            " AS lane_room \
                 FROM jobs j {index} \
                 WHERE j.state IN ('queued', 'failed') AND j.run_at <= $3 \
                   AND (j.coalesce_key IS NULL OR \
                        (SELECT r.job_id FROM running_jobs r WHERE r.coalesce_key = j.coalesce_key) IS NULL) \
                   AND COALESCE(",
            room!("kind"),
            ", 1) > 0 AND COALESCE(",
            room!("lane"),
            ", 1) > 0 \
                 ORDER BY j.priority, j.run_at, j.id LIMIT ",
            $limit,
            " {lock} \
               ) c \
             ) c \
             WHERE (c.coalesce_key IS NULL OR c.key_rank = 1) \
               AND (c.kind_room IS NULL OR c.kind_rank <= c.kind_room) \
               AND (c.lane IS NULL OR c.lane_room IS NULL OR c.lane_rank <= c.lane_room)"
        )
    };
}

/// How many more jobs of candidate `j`'s `kind` or `lane` may run now (`NULL`: unbounded).
macro_rules! room {
    ($column:literal) => {
        concat!(
            "(SELECT CASE WHEN l.max_running IS NULL THEN NULL \
                     ELSE l.max_running - (SELECT COUNT(*) FROM running_jobs k WHERE k.",
            $column,
            " = j.",
            $column,
            ") END \
              FROM lanes l WHERE l.name = j.",
            $column,
            ")"
        )
    };
}

/// The claim of up to `$4` jobs: one statement, lease included (see `store::jobs`).
/// `{limit}` is `$4` in the backend's spelling (see `Store::dialect`).
pub(super) const CLAIM: &str = concat!(
    "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, \
         attempts = attempts + 1, started_at = $3, updated_at = $3 \
     WHERE id IN (",
    candidates!("{limit}"),
    ") RETURNING *"
);

/// Completes job `$4` and claims the next one in one statement. Explicit casts, because
/// PostgreSQL cannot infer a parameter's type inside `CASE`.
pub(super) const COMPLETE_AND_CLAIM: &str = concat!(
    "UPDATE jobs SET \
         state = CASE WHEN id = $4 THEN 'succeeded' ELSE 'running' END, \
         locked_by = CASE WHEN id = $4 THEN NULL ELSE CAST($1 AS TEXT) END, \
         locked_until = CASE WHEN id = $4 THEN NULL ELSE CAST($2 AS BIGINT) END, \
         attempts = CASE WHEN id = $4 THEN attempts ELSE attempts + 1 END, \
         started_at = CASE WHEN id = $4 THEN started_at ELSE CAST($3 AS BIGINT) END, \
         finished_at = CASE WHEN id = $4 THEN CAST($3 AS BIGINT) ELSE NULL END, \
         last_error = CASE WHEN id = $4 THEN NULL ELSE last_error END, \
         updated_at = $3 \
     WHERE (id = $4 AND locked_by = $1 AND state = 'running') OR id IN (",
    candidates!("1"),
    ") RETURNING *"
);
