//! Group commit: the high-volume writes (token issuance with its audit entry, audit-only
//! appends, rate-limit counters) from many concurrent requests are queued to one writer task,
//! which applies everything waiting in **one transaction** with one multi-row statement per
//! table, then answers each request. The database sees one commit and one audit-head lock
//! per batch instead of one per request; each request still gets exactly the answer it would
//! have had alone (its own counter values, its own entries in chain order). A job's tokens
//! and audit entries are written only if its counters stay within their limits, so a rate
//! check and the issuance it guards are one atomic step.

use std::collections::BTreeMap;

use kendrix_core::AuditDraft;
use sqlx::QueryBuilder;
use tokio::sync::{mpsc, oneshot};

use crate::dialect::{Dialect, PushParam, Statement};
use crate::sql_store::{AuditedWrite, Connections};
use crate::{tokens, Admission, LimitedHit, NewToken, StoreError, StoreResult};

/// Most requests applied in one transaction.
pub(crate) const MAX_BATCH: usize = 256;

const COUNT_HITS: &str = "INSERT INTO rate_limits (bucket, window_start, hits) ";
/// Adds to existing windows and returns every counter after the batch.
const COUNT_HITS_TAIL: &str = " ON CONFLICT (bucket, window_start) DO UPDATE \
     SET hits = rate_limits.hits + excluded.hits RETURNING bucket, window_start, hits";
pub(crate) const PRUNE_RATE_WINDOWS: &str = "DELETE FROM rate_limits WHERE window_start < $1";

/// One request's writes: counters to add to, and tokens and audit entries written only if
/// every counter stays within its limit (all of them when no limit is given).
pub(crate) struct WriteJob {
    pub hits: Vec<LimitedHit>,
    pub tokens: Vec<NewToken>,
    pub audit: Vec<AuditDraft>,
    pub reply: oneshot::Sender<StoreResult<Admission>>,
}

/// Total delta per (bucket, window) over a batch, for one upsert.
fn hit_totals(jobs: &[WriteJob]) -> BTreeMap<(String, i64), i64> {
    let mut totals = BTreeMap::new();
    for job in jobs {
        for limited in &job.hits {
            let hit = &limited.hit;
            *totals
                .entry((hit.bucket.clone(), hit.window_start))
                .or_default() += hit.hits;
        }
    }
    totals
}

/// Given the counts after the whole batch, what each job would have seen had the jobs run
/// one after another in queue order, and whether it stays within its limits.
fn admissions(
    jobs: &[WriteJob],
    totals: &BTreeMap<(String, i64), i64>,
    finals: &BTreeMap<(String, i64), i64>,
) -> Vec<Admission> {
    let mut running: BTreeMap<(String, i64), i64> = finals
        .iter()
        .map(|(key, count)| (key.clone(), count - totals.get(key).copied().unwrap_or(0)))
        .collect();
    jobs.iter()
        .map(|job| {
            let counts: Vec<i64> = job
                .hits
                .iter()
                .map(|limited| {
                    let hit = &limited.hit;
                    let count = running
                        .entry((hit.bucket.clone(), hit.window_start))
                        .or_default();
                    *count += hit.hits;
                    *count
                })
                .collect();
            let admitted = job
                .hits
                .iter()
                .zip(&counts)
                .all(|(limited, count)| limited.max.is_none_or(|max| *count <= max));
            Admission { counts, admitted }
        })
        .collect()
}

/// Answers every job of a batch that committed.
fn answer(jobs: Vec<WriteJob>, admissions: Vec<Admission>) {
    for (job, admission) in jobs.into_iter().zip(admissions) {
        let _ = job.reply.send(Ok(admission));
    }
}

/// Answers a job whose (single-job) batch failed.
fn fail(job: WriteJob, err: StoreError) {
    let _ = job.reply.send(Err(err));
}

/// The sending side, held by the store.
#[derive(Debug, Clone)]
pub(crate) struct WriteQueue(pub mpsc::Sender<WriteJob>);

impl WriteQueue {
    pub async fn submit(
        &self,
        hits: Vec<LimitedHit>,
        tokens: Vec<NewToken>,
        audit: Vec<AuditDraft>,
    ) -> StoreResult<Admission> {
        let (reply, answer) = oneshot::channel();
        let job = WriteJob {
            hits,
            tokens,
            audit,
            reply,
        };
        self.0.send(job).await.map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

/// Takes the next job, then everything else already waiting, up to [`MAX_BATCH`].
async fn next_batch(rx: &mut mpsc::Receiver<WriteJob>) -> Option<Vec<WriteJob>> {
    let first = rx.recv().await?;
    let mut jobs = vec![first];
    while jobs.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
    Some(jobs)
}

/// Adds every total to its window in one upsert; the counters after it.
async fn count<D: Dialect>(
    write: &mut AuditedWrite<D>,
    totals: &BTreeMap<(String, i64), i64>,
) -> StoreResult<BTreeMap<(String, i64), i64>> {
    if totals.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut upsert = QueryBuilder::<D>::new(COUNT_HITS);
    upsert.push_values(totals, |mut row, ((bucket, window), hits)| {
        row.push_param(bucket.clone())
            .push_param(*window)
            .push_param(*hits);
    });
    upsert.push(COUNT_HITS_TAIL);
    let rows: Vec<(String, i64, i64)> = Statement::from(upsert.build())
        .fetch_all(write.on())
        .await?;
    Ok(rows.into_iter().map(|(b, w, n)| ((b, w), n)).collect())
}

/// The counters of these windows as they stand (0 for a window never counted), in input
/// order; a read, on the read pool: it writes nothing, not even an empty window.
pub(crate) async fn read_counts<D: Dialect>(
    db: &Connections<D>,
    windows: &[(String, i64)],
) -> StoreResult<Vec<i64>> {
    if windows.is_empty() {
        return Ok(Vec::new());
    }
    let mut select = QueryBuilder::<D>::new(
        "SELECT bucket, window_start, hits FROM rate_limits WHERE bucket IN (",
    );
    let mut list = select.separated(", ");
    for (bucket, _) in windows {
        list.push_param(bucket.clone());
    }
    select.push(")");
    let rows: Vec<(String, i64, i64)> =
        Statement::from(select.build()).fetch_all(db.read()).await?;
    let found: BTreeMap<(String, i64), i64> =
        rows.into_iter().map(|(b, w, n)| ((b, w), n)).collect();
    Ok(windows
        .iter()
        .map(|window| found.get(window).copied().unwrap_or(0))
        .collect())
}

/// Applies one batch of jobs in one transaction: the counters, then the tokens and audit
/// entries of the jobs that stay within their limits.
async fn write_batch<D: Dialect>(
    db: &Connections<D>,
    jobs: &[WriteJob],
) -> StoreResult<Vec<Admission>> {
    let totals = hit_totals(jobs);
    let mut write = db.begin_write().await?;
    let finals = count(&mut write, &totals).await?;
    let admissions = admissions(jobs, &totals, &finals);
    let admitted = || {
        jobs.iter()
            .zip(&admissions)
            .filter(|(_, a)| a.admitted)
            .map(|(j, _)| j)
    };
    let tokens: Vec<&NewToken> = admitted().flat_map(|j| &j.tokens).collect();
    let audit: Vec<AuditDraft> = admitted().flat_map(|j| j.audit.iter().cloned()).collect();
    tokens::insert(&mut write, &tokens).await?;
    write.commit(&audit).await?;
    Ok(admissions)
}

/// The writer task: one batch at a time until the store is dropped. A failed batch is
/// retried job by job, so one bad request cannot fail the others.
async fn write_loop<D: Dialect>(db: Connections<D>, mut queue: mpsc::Receiver<WriteJob>) {
    while let Some(jobs) = next_batch(&mut queue).await {
        match write_batch(&db, &jobs).await {
            Ok(admissions) => answer(jobs, admissions),
            Err(err) if jobs.len() == 1 => {
                if let Some(job) = jobs.into_iter().next() {
                    fail(job, err);
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, jobs = jobs.len(), "group commit failed; retrying one by one");
                for job in jobs {
                    match write_batch(&db, std::slice::from_ref(&job)).await {
                        Ok(admissions) => answer(vec![job], admissions),
                        Err(err) => fail(job, err),
                    }
                }
            }
        }
    }
}

/// Starts the writer task over these connections and returns the queue that feeds it.
pub(crate) fn start_writer<D: Dialect>(db: Connections<D>) -> WriteQueue {
    let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
    tokio::spawn(write_loop(db, rx));
    WriteQueue(tx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RateHit;

    fn job(bucket: &str, n: i64, max: Option<i64>) -> WriteJob {
        let (reply, _) = oneshot::channel();
        WriteJob {
            hits: vec![LimitedHit {
                hit: RateHit {
                    bucket: bucket.into(),
                    window_start: 0,
                    hits: n,
                },
                max,
            }],
            tokens: Vec::new(),
            audit: Vec::new(),
            reply,
        }
    }

    #[test]
    fn each_job_sees_the_count_it_would_have_seen_alone() {
        // 5 hits were in window "a" before; jobs add 1, 0 (a peek), 1 to "b", and 1.
        let jobs = vec![
            job("a", 1, Some(6)),
            job("a", 0, None),
            job("b", 1, None),
            job("a", 1, Some(6)),
        ];
        let totals = hit_totals(&jobs);
        let finals = BTreeMap::from([(("a".to_string(), 0), 7), (("b".to_string(), 0), 1)]);
        let seen: Vec<(Vec<i64>, bool)> = admissions(&jobs, &totals, &finals)
            .into_iter()
            .map(|a| (a.counts, a.admitted))
            .collect();
        assert_eq!(
            seen,
            vec![
                (vec![6], true),
                (vec![6], true),
                (vec![1], true),
                (vec![7], false)
            ]
        );
    }
}
