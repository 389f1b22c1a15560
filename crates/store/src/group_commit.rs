//! Group commit: the high-volume writes (token issuance with its audit entry, audit-only
//! appends, rate-limit counters) from many concurrent requests are queued to one writer task,
//! which applies everything waiting in **one transaction** with one multi-row statement per
//! table, then answers each request. The database sees one commit and one audit-head lock
//! per batch instead of one per request; each request still gets exactly the answer it would
//! have had alone (its own counter values, its own entries in chain order).

use std::collections::BTreeMap;

use kendrix_core::AuditDraft;
use tokio::sync::{mpsc, oneshot};

use crate::{NewToken, RateHit, StoreError, StoreResult};

/// Most requests applied in one transaction.
pub(crate) const MAX_BATCH: usize = 256;

/// One request's writes.
pub(crate) enum WriteJob {
    /// Add hits to rate-limit windows; answer the count of each after this job's hits.
    Hits {
        hits: Vec<RateHit>,
        reply: oneshot::Sender<StoreResult<Vec<i64>>>,
    },
    /// Insert tokens and append audit entries.
    Append {
        tokens: Vec<NewToken>,
        audit: Vec<AuditDraft>,
        reply: oneshot::Sender<StoreResult<()>>,
    },
}

/// What one batch writes, merged across its jobs.
pub(crate) struct MergedBatch<'a> {
    /// Total delta per (bucket, window), for one upsert.
    pub hit_totals: BTreeMap<(String, i64), i64>,
    pub tokens: Vec<&'a NewToken>,
    pub audit: Vec<AuditDraft>,
}

impl<'a> MergedBatch<'a> {
    pub fn of(jobs: &'a [WriteJob]) -> Self {
        let mut batch = MergedBatch {
            hit_totals: BTreeMap::new(),
            tokens: Vec::new(),
            audit: Vec::new(),
        };
        for job in jobs {
            match job {
                WriteJob::Hits { hits, .. } => {
                    for hit in hits {
                        *batch
                            .hit_totals
                            .entry((hit.bucket.clone(), hit.window_start))
                            .or_default() += hit.hits;
                    }
                }
                WriteJob::Append { tokens, audit, .. } => {
                    batch.tokens.extend(tokens);
                    batch.audit.extend(audit.iter().cloned());
                }
            }
        }
        batch
    }
}

/// Given the counts after the whole batch, the count each `Hits` job would have seen had the
/// jobs run one after another in queue order.
pub(crate) fn counts_per_job(
    jobs: &[WriteJob],
    totals: &BTreeMap<(String, i64), i64>,
    finals: &BTreeMap<(String, i64), i64>,
) -> Vec<Option<Vec<i64>>> {
    let mut running: BTreeMap<(String, i64), i64> = finals
        .iter()
        .map(|(key, count)| (key.clone(), count - totals.get(key).copied().unwrap_or(0)))
        .collect();
    jobs.iter()
        .map(|job| match job {
            WriteJob::Hits { hits, .. } => Some(
                hits.iter()
                    .map(|hit| {
                        let count = running
                            .entry((hit.bucket.clone(), hit.window_start))
                            .or_default();
                        *count += hit.hits;
                        *count
                    })
                    .collect(),
            ),
            WriteJob::Append { .. } => None,
        })
        .collect()
}

/// Answers every job of a batch that committed.
pub(crate) fn answer(jobs: Vec<WriteJob>, counts: Vec<Option<Vec<i64>>>) {
    for (job, counts) in jobs.into_iter().zip(counts) {
        match job {
            WriteJob::Hits { reply, .. } => {
                let _ = reply.send(Ok(counts.unwrap_or_default()));
            }
            WriteJob::Append { reply, .. } => {
                let _ = reply.send(Ok(()));
            }
        }
    }
}

/// Answers a job whose (single-job) batch failed.
pub(crate) fn fail(job: WriteJob, err: StoreError) {
    match job {
        WriteJob::Hits { reply, .. } => {
            let _ = reply.send(Err(err));
        }
        WriteJob::Append { reply, .. } => {
            let _ = reply.send(Err(err));
        }
    }
}

/// The sending side, held by the store.
#[derive(Debug, Clone)]
pub(crate) struct WriteQueue(pub mpsc::Sender<WriteJob>);

impl WriteQueue {
    pub async fn hits(&self, hits: Vec<RateHit>) -> StoreResult<Vec<i64>> {
        let (reply, answer) = oneshot::channel();
        self.submit(WriteJob::Hits { hits, reply }).await?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    pub async fn append(&self, tokens: Vec<NewToken>, audit: Vec<AuditDraft>) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        self.submit(WriteJob::Append {
            tokens,
            audit,
            reply,
        })
        .await?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    async fn submit(&self, job: WriteJob) -> StoreResult<()> {
        self.0.send(job).await.map_err(|_| StoreError::WriterGone)
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

    fn hits(bucket: &str, n: i64) -> WriteJob {
        let (reply, _) = oneshot::channel();
        WriteJob::Hits {
            hits: vec![RateHit {
                bucket: bucket.into(),
                window_start: 0,
                hits: n,
            }],
            reply,
        }
    }

    #[test]
    fn each_job_sees_the_count_it_would_have_seen_alone() {
        // 5 hits were in the window before; three jobs add 1, 0 (a peek) and 1.
        let jobs = vec![hits("a", 1), hits("a", 0), hits("b", 1), hits("a", 1)];
        let batch = MergedBatch::of(&jobs);
        let finals = BTreeMap::from([(("a".to_string(), 0), 7), (("b".to_string(), 0), 1)]);
        let counts = counts_per_job(&jobs, &batch.hit_totals, &finals);
        assert_eq!(
            counts,
            vec![Some(vec![6]), Some(vec![6]), Some(vec![1]), Some(vec![7])]
        );
    }
}
