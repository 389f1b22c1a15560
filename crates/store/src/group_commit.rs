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
use tokio::sync::{mpsc, oneshot};

use crate::{Admission, LimitedHit, NewToken, StoreError, StoreResult};

/// Most requests applied in one transaction.
pub(crate) const MAX_BATCH: usize = 256;

/// One request's writes: counters to add to, and tokens and audit entries written only if
/// every counter stays within its limit (all of them when no limit is given).
pub(crate) struct WriteJob {
    pub hits: Vec<LimitedHit>,
    pub tokens: Vec<NewToken>,
    pub audit: Vec<AuditDraft>,
    pub reply: oneshot::Sender<StoreResult<Admission>>,
}

/// Total delta per (bucket, window) over a batch, for one upsert.
pub(crate) fn hit_totals(jobs: &[WriteJob]) -> BTreeMap<(String, i64), i64> {
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
pub(crate) fn admissions(
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
pub(crate) fn answer(jobs: Vec<WriteJob>, admissions: Vec<Admission>) {
    for (job, admission) in jobs.into_iter().zip(admissions) {
        let _ = job.reply.send(Ok(admission));
    }
}

/// Answers a job whose (single-job) batch failed.
pub(crate) fn fail(job: WriteJob, err: StoreError) {
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
pub(crate) async fn next_batch(rx: &mut mpsc::Receiver<WriteJob>) -> Option<Vec<WriteJob>> {
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
