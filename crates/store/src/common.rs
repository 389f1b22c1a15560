//! The part of the `Store` implementation that is the same SQL on both backends.
//!
//! Written once as a macro and expanded for `SqliteStore` and `PgStore`, so each expansion is
//! type-checked against its own driver. Each backend's connection type (`$conn`) provides
//! `reader()`, `writer()`, `begin()` (a write transaction), `MIGRATOR` and `LOCK_CHAIN_HEAD`
//! (how to read the audit head so appends never fork); its store type (`$store`) holds the
//! connections in `db` and the group-commit queue in `queue`.

macro_rules! impl_store {
    ($store:ty, $conn:ty, $db:ty, $backend:expr) => {
        impl $conn {
            /// Appends drafts to the audit chain inside the caller's transaction.
            async fn append_audit_in(
                tx: &mut sqlx::Transaction<'_, $db>,
                drafts: &[kendrix_core::AuditDraft],
            ) -> $crate::StoreResult<()> {
                if drafts.is_empty() {
                    return Ok(());
                }
                let (seq, head): (i64, String) = sqlx::query_as(Self::LOCK_CHAIN_HEAD)
                    .fetch_one(&mut **tx)
                    .await?;
                let (linked, new_seq, new_head) = $crate::link_audit(drafts, seq, &head);
                let mut insert = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO audit_logs (id, at, tenant_id, client_id, request_id, source, \
                     event, outcome, details, prev_hash, hash) ",
                );
                insert.push_values(&linked, |mut row, (entry, hash)| {
                    row.push_bind(entry.seq)
                        .push_bind(entry.at)
                        .push_bind(entry.tenant_id)
                        .push_bind(entry.client_id.clone())
                        .push_bind(entry.request_id.clone())
                        .push_bind(entry.source.clone())
                        .push_bind(entry.event.clone())
                        .push_bind(entry.outcome.clone())
                        .push_bind(entry.details.clone())
                        .push_bind(entry.prev_hash.clone())
                        .push_bind(hash.clone());
                });
                insert.build().execute(&mut **tx).await?;
                sqlx::query($crate::sql::UPDATE_CHAIN_HEAD)
                    .bind(new_seq)
                    .bind(new_head)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Applies one group-commit batch in one transaction.
            async fn write_batch(
                &self,
                jobs: &[$crate::group_commit::WriteJob],
            ) -> $crate::StoreResult<Vec<$crate::Admission>> {
                let totals = $crate::group_commit::hit_totals(jobs);
                let mut tx = self.begin().await?;
                let mut finals = std::collections::BTreeMap::new();
                if !totals.is_empty() {
                    let mut upsert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO rate_limits (bucket, window_start, hits) ",
                    );
                    upsert.push_values(&totals, |mut row, ((bucket, window), hits)| {
                        row.push_bind(bucket.clone()).push_bind(*window).push_bind(*hits);
                    });
                    upsert.push(
                        " ON CONFLICT (bucket, window_start) DO UPDATE \
                         SET hits = rate_limits.hits + excluded.hits \
                         RETURNING bucket, window_start, hits",
                    );
                    let rows: Vec<(String, i64, i64)> =
                        upsert.build_query_as().fetch_all(&mut *tx).await?;
                    finals.extend(rows.into_iter().map(|(b, w, n)| ((b, w), n)));
                }
                let admissions = $crate::group_commit::admissions(jobs, &totals, &finals);
                let admitted = || jobs.iter().zip(&admissions).filter(|(_, a)| a.admitted).map(|(j, _)| j);
                let tokens: Vec<&$crate::NewToken> = admitted().flat_map(|j| &j.tokens).collect();
                let audit: Vec<kendrix_core::AuditDraft> =
                    admitted().flat_map(|j| j.audit.iter().cloned()).collect();
                for chunk in tokens.chunks(1000) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO oauth_tokens (token_hash, kind, client_pk, tenant_id, scopes, \
                         family, issued_at, expires_at) ",
                    );
                    insert.push_values(chunk, |mut row, t| {
                        row.push_bind(t.token_hash.clone())
                            .push_bind(t.kind.as_str())
                            .push_bind(t.client_pk)
                            .push_bind(t.tenant_id)
                            .push_bind(t.scopes.clone())
                            .push_bind(t.family.clone())
                            .push_bind(t.issued_at)
                            .push_bind(t.expires_at);
                    });
                    insert.build().execute(&mut *tx).await?;
                }
                for chunk in audit.chunks(1000) {
                    Self::append_audit_in(&mut tx, chunk).await?;
                }
                tx.commit().await?;
                Ok(admissions)
            }

            /// The writer task: one batch at a time until the store is dropped. A failed
            /// batch is retried job by job, so one bad request cannot fail the others.
            async fn write_loop(self, mut queue: tokio::sync::mpsc::Receiver<$crate::group_commit::WriteJob>) {
                use $crate::group_commit::{answer, fail, next_batch};
                while let Some(jobs) = next_batch(&mut queue).await {
                    match self.write_batch(&jobs).await {
                        Ok(admissions) => answer(jobs, admissions),
                        Err(err) if jobs.len() == 1 => {
                            if let Some(job) = jobs.into_iter().next() {
                                fail(job, err);
                            }
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, jobs = jobs.len(), "group commit failed; retrying one by one");
                            for job in jobs {
                                match self.write_batch(std::slice::from_ref(&job)).await {
                                    Ok(admissions) => answer(vec![job], admissions),
                                    Err(err) => fail(job, err),
                                }
                            }
                        }
                    }
                }
            }

            /// Starts the writer task and returns the queue that feeds it.
            fn start_writer(&self) -> $crate::group_commit::WriteQueue {
                let (tx, rx) = tokio::sync::mpsc::channel($crate::group_commit::MAX_BATCH * 4);
                tokio::spawn(self.clone().write_loop(rx));
                $crate::group_commit::WriteQueue(tx)
            }
        }

        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> $crate::Backend {
                $backend
            }

            async fn migrate(&self) -> $crate::StoreResult<()> {
                <$conn>::MIGRATOR.run(self.db.writer()).await?;
                Ok(())
            }

            async fn ping(&self) -> $crate::StoreResult<()> {
                sqlx::query("SELECT 1").execute(self.db.reader()).await?;
                Ok(())
            }

            async fn create_tenant(
                &self,
                name: &str,
                at: kendrix_core::UnixMillis,
                audit: kendrix_core::AuditDraft,
            ) -> $crate::StoreResult<$crate::Tenant> {
                let mut tx = self.db.begin().await?;
                let tenant: $crate::Tenant = sqlx::query_as($crate::sql::INSERT_TENANT)
                    .bind(name)
                    .bind(at)
                    .fetch_one(&mut *tx)
                    .await?;
                <$conn>::append_audit_in(&mut tx, &[audit.tenant(tenant.id)]).await?;
                tx.commit().await?;
                Ok(tenant)
            }

            async fn list_tenants(&self) -> $crate::StoreResult<Vec<$crate::Tenant>> {
                Ok(sqlx::query_as($crate::sql::LIST_TENANTS)
                    .fetch_all(self.db.reader())
                    .await?)
            }

            async fn register_client(
                &self,
                client: $crate::NewClient,
                audit: kendrix_core::AuditDraft,
            ) -> $crate::StoreResult<$crate::Client> {
                let mut tx = self.db.begin().await?;
                let row: $crate::Client = sqlx::query_as(&$crate::sql::insert_client())
                    .bind(&client.client_id)
                    .bind(client.tenant_id)
                    .bind(&client.name)
                    .bind(&client.secret_hash)
                    .bind(&client.scopes)
                    .bind(client.created_at)
                    .fetch_one(&mut *tx)
                    .await?;
                <$conn>::append_audit_in(&mut tx, &[audit]).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn list_clients(
                &self,
                tenant_id: Option<i64>,
            ) -> $crate::StoreResult<Vec<$crate::Client>> {
                Ok(sqlx::query_as(&$crate::sql::list_clients())
                    .bind(tenant_id)
                    .fetch_all(self.db.reader())
                    .await?)
            }

            async fn client(&self, client_id: &str) -> $crate::StoreResult<Option<$crate::Client>> {
                Ok(sqlx::query_as(&$crate::sql::client_by_id())
                    .bind(client_id)
                    .fetch_optional(self.db.reader())
                    .await?)
            }

            async fn revoke_client(
                &self,
                client_id: &str,
                at: kendrix_core::UnixMillis,
                audit: kendrix_core::AuditDraft,
            ) -> $crate::StoreResult<Option<$crate::RevokedClient>> {
                let mut tx = self.db.begin().await?;
                let pk: Option<i64> = sqlx::query_scalar($crate::sql::REVOKE_CLIENT)
                    .bind(at)
                    .bind(client_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(pk) = pk else {
                    return Ok(None);
                };
                let revoked = sqlx::query($crate::sql::REVOKE_CLIENT_TOKENS)
                    .bind(at)
                    .bind(pk)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let audit = audit.with_detail("tokens_revoked", revoked);
                <$conn>::append_audit_in(&mut tx, &[audit]).await?;
                tx.commit().await?;
                Ok(Some($crate::RevokedClient { tokens_revoked: revoked }))
            }

            async fn issue_tokens(
                &self,
                tokens: &[$crate::NewToken],
                audit: &[kendrix_core::AuditDraft],
            ) -> $crate::StoreResult<()> {
                self.queue.submit(Vec::new(), tokens.to_vec(), audit.to_vec()).await?;
                Ok(())
            }

            async fn admit(
                &self,
                hits: &[$crate::LimitedHit],
                tokens: &[$crate::NewToken],
                audit: &[kendrix_core::AuditDraft],
            ) -> $crate::StoreResult<$crate::Admission> {
                self.queue.submit(hits.to_vec(), tokens.to_vec(), audit.to_vec()).await
            }


            async fn token(&self, token_hash: &str) -> $crate::StoreResult<Option<$crate::TokenState>> {
                Ok(sqlx::query_as($crate::sql::TOKEN_STATE)
                    .bind(token_hash)
                    .fetch_optional(self.db.reader())
                    .await?)
            }

            async fn use_refresh_token(
                &self,
                token_hash: &str,
                at: kendrix_core::UnixMillis,
            ) -> $crate::StoreResult<Option<$crate::RefreshUse>> {
                let mut tx = self.db.begin().await?;
                let spent: Option<i64> = sqlx::query_scalar($crate::sql::SPEND_REFRESH)
                    .bind(at)
                    .bind(token_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                let state: Option<$crate::TokenState> = sqlx::query_as($crate::sql::TOKEN_STATE)
                    .bind(token_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(match state {
                    Some(s) if s.kind != $crate::TokenKind::Refresh => None,
                    Some(s) if spent.is_some() => Some($crate::RefreshUse::First(s)),
                    Some(s) => Some($crate::RefreshUse::Reused(s)),
                    None => None,
                })
            }

            async fn revoke_token(
                &self,
                token_hash: &str,
                at: kendrix_core::UnixMillis,
                audit: &[kendrix_core::AuditDraft],
            ) -> $crate::StoreResult<u64> {
                let mut tx = self.db.begin().await?;
                let revoked: Option<(String, String)> = sqlx::query_as($crate::sql::REVOKE_TOKEN)
                    .bind(at)
                    .bind(token_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                let count = match revoked {
                    None => 0,
                    Some((kind, _)) if kind == "access" => 1,
                    Some((_, family)) => {
                        1 + sqlx::query($crate::sql::REVOKE_FAMILY)
                            .bind(at)
                            .bind(family)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected()
                    }
                };
                <$conn>::append_audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(count)
            }

            async fn revoke_family(
                &self,
                family: &str,
                at: kendrix_core::UnixMillis,
                audit: &[kendrix_core::AuditDraft],
            ) -> $crate::StoreResult<u64> {
                let mut tx = self.db.begin().await?;
                let count = sqlx::query($crate::sql::REVOKE_FAMILY)
                    .bind(at)
                    .bind(family)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                <$conn>::append_audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(count)
            }

            async fn count_hits(&self, hits: &[$crate::RateHit]) -> $crate::StoreResult<Vec<i64>> {
                if hits.is_empty() {
                    return Ok(Vec::new());
                }
                let hits = hits
                    .iter()
                    .map(|hit| $crate::LimitedHit { hit: hit.clone(), max: None })
                    .collect();
                Ok(self.queue.submit(hits, Vec::new(), Vec::new()).await?.counts)
            }

            async fn append_audit(&self, audit: &[kendrix_core::AuditDraft]) -> $crate::StoreResult<()> {
                self.queue.submit(Vec::new(), Vec::new(), audit.to_vec()).await?;
                Ok(())
            }

            async fn audit_entries(
                &self,
                after_seq: i64,
                limit: i64,
            ) -> $crate::StoreResult<Vec<$crate::StoredAuditEntry>> {
                Ok(sqlx::query_as($crate::sql::AUDIT_ENTRIES)
                    .bind(after_seq)
                    .bind(limit)
                    .fetch_all(self.db.reader())
                    .await?)
            }

            async fn audit_head(&self) -> $crate::StoreResult<(i64, String)> {
                Ok(sqlx::query_as($crate::sql::AUDIT_HEAD)
                    .fetch_one(self.db.reader())
                    .await?)
            }

            async fn audit_checkpoint(&self) -> $crate::StoreResult<(i64, String)> {
                Ok(sqlx::query_as($crate::sql::AUDIT_CHECKPOINT)
                    .fetch_one(self.db.reader())
                    .await?)
            }

            async fn prune_audit(
                &self,
                before: kendrix_core::UnixMillis,
                audit: kendrix_core::AuditDraft,
            ) -> $crate::StoreResult<u64> {
                let mut tx = self.db.begin().await?;
                // Hold the head row: appends wait, so the checkpoint and the chain agree.
                let _: (i64, String) = sqlx::query_as(<$conn>::LOCK_CHAIN_HEAD)
                    .fetch_one(&mut *tx)
                    .await?;
                let last: Option<(i64, String)> = sqlx::query_as($crate::sql::LAST_ENTRY_BEFORE)
                    .bind(before)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some((seq, hash)) = last else {
                    return Ok(0);
                };
                let deleted = sqlx::query($crate::sql::DELETE_AUDIT_UPTO)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query($crate::sql::SET_CHECKPOINT)
                    .bind(seq)
                    .bind(&hash)
                    .execute(&mut *tx)
                    .await?;
                let audit = audit
                    .with_detail("entries_deleted", deleted)
                    .with_detail("checkpoint_seq", seq)
                    .with_detail("checkpoint_hash", hash);
                <$conn>::append_audit_in(&mut tx, &[audit]).await?;
                tx.commit().await?;
                Ok(deleted)
            }

            async fn query_audit(
                &self,
                query: &$crate::AuditQuery,
            ) -> $crate::StoreResult<Vec<$crate::StoredAuditEntry>> {
                let mut select = sqlx::QueryBuilder::<$db>::new(
                    "SELECT id AS seq, at, tenant_id, client_id, request_id, source, event, outcome, \
                     details, prev_hash, hash FROM audit_logs WHERE tenant_id = ",
                );
                select.push_bind(query.tenant_id);
                if let Some(before) = query.before_seq {
                    select.push(" AND id < ").push_bind(before);
                }
                if let Some(since) = query.since {
                    select.push(" AND at >= ").push_bind(since);
                }
                if let Some(until) = query.until {
                    select.push(" AND at < ").push_bind(until);
                }
                if !query.events.is_empty() {
                    select.push(" AND event IN (");
                    let mut list = select.separated(", ");
                    for event in &query.events {
                        list.push_bind(event.clone());
                    }
                    select.push(")");
                }
                if let Some(client) = &query.client_id {
                    select.push(" AND client_id = ").push_bind(client.clone());
                }
                if let Some(outcome) = &query.outcome {
                    select.push(" AND outcome = ").push_bind(outcome.clone());
                }
                if let Some(text) = query.text.as_deref().filter(|t| !t.trim().is_empty()) {
                    <$conn>::push_text_search(&mut select, text);
                }
                select.push(" ORDER BY id DESC LIMIT ").push_bind(query.limit);
                Ok(select.build_query_as().fetch_all(self.db.reader()).await?)
            }

            async fn auth_event_counts(
                &self,
                tenant_id: i64,
                since: kendrix_core::UnixMillis,
            ) -> $crate::StoreResult<Vec<$crate::EventCount>> {
                Ok(sqlx::query_as($crate::sql::AUTH_EVENT_COUNTS)
                    .bind(tenant_id)
                    .bind(since)
                    .fetch_all(self.db.reader())
                    .await?)
            }

            async fn sync_versions(
                &self,
                tenant_id: i64,
                client_pk: i64,
            ) -> $crate::StoreResult<Vec<$crate::SyncVersion>> {
                Ok(sqlx::query_as($crate::sql::SYNC_VERSIONS)
                    .bind(tenant_id)
                    .bind(client_pk)
                    .fetch_all(self.db.reader())
                    .await?)
            }

            async fn prune(
                &self,
                before: kendrix_core::UnixMillis,
                now: kendrix_core::UnixMillis,
            ) -> $crate::StoreResult<$crate::PruneCounts> {
                let mut tx = self.db.begin().await?;
                let rate_windows = sqlx::query($crate::sql::PRUNE_RATE_WINDOWS)
                    .bind(before)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let tokens = sqlx::query($crate::sql::PRUNE_TOKENS)
                    .bind(before)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let idempotency_keys = sqlx::query($crate::sql::PRUNE_KEYS)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok($crate::PruneCounts {
                    rate_windows,
                    tokens,
                    idempotency_keys,
                })
            }

            async fn claim_idempotency_key(
                &self,
                claim: &$crate::IdempotencyClaim,
            ) -> $crate::StoreResult<$crate::NextAction> {
                // The fast path: a key completed with this very body replays from a read.
                let stored: Option<Option<String>> = sqlx::query_scalar($crate::sql::STORED_RESPONSE)
                    .bind(claim.client_pk)
                    .bind(&claim.key)
                    .bind(&claim.request_hash)
                    .bind(claim.now)
                    .fetch_optional(self.db.reader())
                    .await?;
                if let Some(body) = stored {
                    return Ok($crate::NextAction::Replay(body.unwrap_or_default()));
                }
                let locked_until = claim.now + claim.lease_ms;
                let expires_at = claim.now + claim.retention_ms;
                let mut tx = self.db.begin().await?;
                let inserted: Option<String> = sqlx::query_scalar($crate::sql::CLAIM_KEY)
                    .bind(claim.client_pk)
                    .bind(&claim.key)
                    .bind(&claim.request_hash)
                    .bind(&claim.owner)
                    .bind(locked_until)
                    .bind(claim.now)
                    .bind(expires_at)
                    .fetch_optional(&mut *tx)
                    .await?;
                if inserted.is_some() {
                    tx.commit().await?;
                    return Ok($crate::NextAction::Claimed);
                }
                let (hash, state, held_until, body, expires): (
                    String,
                    String,
                    i64,
                    Option<String>,
                    i64,
                ) = sqlx::query_as($crate::sql::READ_KEY)
                    .bind(claim.client_pk)
                    .bind(&claim.key)
                    .fetch_one(&mut *tx)
                    .await?;
                let expired = expires <= claim.now;
                let abandoned = state == "in_flight" && held_until <= claim.now;
                let outcome = if expired || (abandoned && hash == claim.request_hash) {
                    sqlx::query($crate::sql::TAKE_OVER_KEY)
                        .bind(claim.client_pk)
                        .bind(&claim.key)
                        .bind(&claim.request_hash)
                        .bind(&claim.owner)
                        .bind(locked_until)
                        .bind(claim.now)
                        .bind(expires_at)
                        .execute(&mut *tx)
                        .await?;
                    $crate::NextAction::Claimed
                } else if hash != claim.request_hash {
                    $crate::NextAction::Mismatch
                } else if state == "done" {
                    $crate::NextAction::Replay(body.unwrap_or_default())
                } else {
                    $crate::NextAction::InFlight {
                        retry_after_ms: held_until - claim.now,
                    }
                };
                tx.commit().await?;
                Ok(outcome)
            }

            async fn release_idempotency_key(
                &self,
                client_pk: i64,
                key: &str,
                owner: &str,
            ) -> $crate::StoreResult<()> {
                sqlx::query($crate::sql::RELEASE_KEY)
                    .bind(client_pk)
                    .bind(key)
                    .bind(owner)
                    .execute(self.db.writer())
                    .await?;
                Ok(())
            }

            async fn apply_batch(
                &self,
                batch: $crate::BatchToApply,
                render: $crate::RenderResponse<'_>,
            ) -> $crate::StoreResult<$crate::AppliedBatch> {
                let (client_pk, key, owner) =
                    (batch.client_pk, batch.idempotency_key.clone(), batch.owner.clone());
                match self.apply_batch_in_one_transaction(batch, render).await {
                    Err(err) if !matches!(err, $crate::StoreError::LeaseLost) => {
                        // Give the key back so the client's retry is applied at once rather
                        // than after the lease; a failure here only means waiting for it.
                        let _ = self.release_idempotency_key(client_pk, &key, &owner).await;
                        Err(err)
                    }
                    applied => applied,
                }
            }

            async fn config_head(&self, tenant_id: i64) -> $crate::StoreResult<Option<$crate::ConfigVersionRow>> {
                Ok(sqlx::query_as($crate::sql::CONFIG_HEAD)
                    .bind(tenant_id)
                    .fetch_optional(self.db.reader())
                    .await?)
            }

            async fn config_versions(&self, tenant_id: i64) -> $crate::StoreResult<Vec<$crate::ConfigVersionRow>> {
                Ok(sqlx::query_as($crate::sql::CONFIG_VERSIONS)
                    .bind(tenant_id)
                    .fetch_all(self.db.reader())
                    .await?)
            }

            async fn config_entries(&self, tenant_id: i64, version: i64) -> $crate::StoreResult<Vec<$crate::ConfigRow>> {
                Ok(sqlx::query_as($crate::sql::CONFIG_ENTRIES)
                    .bind(tenant_id)
                    .bind(version)
                    .fetch_all(self.db.reader())
                    .await?)
            }

            async fn change_config(
                &self,
                change: $crate::NewConfigVersion,
            ) -> $crate::StoreResult<$crate::ConfigVersionRow> {
                let mut tx = self.db.begin().await?;
                let head: Option<$crate::ConfigVersionRow> = sqlx::query_as($crate::sql::CONFIG_HEAD)
                    .bind(change.tenant_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let old_version = head.map_or(0, |h| h.version);
                let base_version = match &change.change {
                    $crate::ConfigChange::Rollback { to } if *to < 1 || *to > old_version => {
                        return Err($crate::StoreError::MissingReference("the configuration version"));
                    }
                    $crate::ConfigChange::Rollback { to } => *to,
                    _ => old_version,
                };
                let mut entries: Vec<$crate::ConfigRow> = if base_version == 0 {
                    Vec::new()
                } else {
                    sqlx::query_as($crate::sql::CONFIG_ENTRIES)
                        .bind(change.tenant_id)
                        .bind(base_version)
                        .fetch_all(&mut *tx)
                        .await?
                };
                $crate::config::apply_change(&mut entries, &change.change)?;
                let version = old_version + 1;
                let content_hash = $crate::config::snapshot_hash(&entries);
                sqlx::query($crate::sql::INSERT_CONFIG_VERSION)
                    .bind(change.tenant_id)
                    .bind(version)
                    .bind(&change.author)
                    .bind(change.at)
                    .bind(&change.comment)
                    .bind(&content_hash)
                    .execute(&mut *tx)
                    .await?;
                for chunk in entries.chunks(1000) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO sync_config (tenant_id, version, scope, key, value_type, value, secret, reveal) ",
                    );
                    insert.push_values(chunk, |mut row, e| {
                        row.push_bind(change.tenant_id)
                            .push_bind(version)
                            .push_bind(e.scope.clone())
                            .push_bind(e.key.clone())
                            .push_bind(e.value_type.clone())
                            .push_bind(e.value.clone())
                            .push_bind(e.secret)
                            .push_bind(e.reveal);
                    });
                    insert.build().execute(&mut *tx).await?;
                }
                let audit = change
                    .audit
                    .clone()
                    .with_detail("old_version", old_version)
                    .with_detail("new_version", version);
                <$conn>::append_audit_in(&mut tx, &[audit]).await?;
                tx.commit().await?;
                Ok($crate::ConfigVersionRow {
                    tenant_id: change.tenant_id,
                    version,
                    author: change.author,
                    at: change.at,
                    comment: change.comment,
                    content_hash,
                })
            }

            async fn sealed_entries(&self) -> $crate::StoreResult<Vec<$crate::Reseal>> {
                let rows: Vec<(i64, i64, String, String, String)> = sqlx::query_as($crate::sql::SEALED_ENTRIES)
                    .fetch_all(self.db.reader())
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(tenant_id, version, scope, key, value)| $crate::Reseal { tenant_id, version, scope, key, value })
                    .collect())
            }

            async fn reseal(
                &self,
                updates: &[$crate::Reseal],
                audit: kendrix_core::AuditDraft,
            ) -> $crate::StoreResult<u64> {
                let mut tx = self.db.begin().await?;
                let mut changed = 0;
                for chunk in updates.chunks(1000) {
                    // VALUES columns are column1..column5 on both SQLite and PostgreSQL.
                    let mut update = sqlx::QueryBuilder::<$db>::new("UPDATE sync_config SET value = u.column5 FROM (");
                    update.push_values(chunk, |mut row, r| {
                        row.push_bind(r.tenant_id)
                            .push_bind(r.version)
                            .push_bind(r.scope.clone())
                            .push_bind(r.key.clone())
                            .push_bind(r.value.clone());
                    });
                    update.push(
                        ") AS u WHERE sync_config.tenant_id = u.column1 AND sync_config.version = u.column2 \
                         AND sync_config.scope = u.column3 AND sync_config.key = u.column4",
                    );
                    changed += update.build().execute(&mut *tx).await?.rows_affected();
                }
                <$conn>::append_audit_in(&mut tx, &[audit.with_detail("values_resealed", changed)]).await?;
                tx.commit().await?;
                Ok(changed)
            }

            async fn config_reports(&self, tenant_id: i64) -> $crate::StoreResult<Vec<$crate::ConfigReport>> {
                Ok(sqlx::query_as($crate::sql::CONFIG_REPORTS)
                    .bind(tenant_id)
                    .fetch_all(self.db.reader())
                    .await?)
            }

            async fn record_refused_batch(&self, batch: $crate::RefusedBatch) -> $crate::StoreResult<()> {
                let mut tx = self.db.begin().await?;
                sqlx::query($crate::sql::INSERT_BATCH)
                    .bind(&batch.batch_id)
                    .bind(batch.tenant_id)
                    .bind(batch.client_pk)
                    .bind(batch.idempotency_key.clone())
                    .bind(batch.received_at)
                    .bind(batch.records)
                    .bind(0_i64)
                    .bind(0_i64)
                    .bind(0_i64)
                    .bind(batch.records)
                    .bind(batch.duration_us)
                    .bind("refused")
                    .execute(&mut *tx)
                    .await?;
                <$conn>::append_audit_in(&mut tx, &[batch.audit]).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn records_page(
                &self,
                tenant_id: i64,
                entity: &str,
                after: &str,
                limit: i64,
            ) -> $crate::StoreResult<Vec<$crate::StoredRecord>> {
                Ok(sqlx::query_as($crate::sql::RECORDS_PAGE)
                    .bind(tenant_id)
                    .bind(entity)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(self.db.reader())
                    .await?)
            }

            async fn batch_figures(
                &self,
                tenant_id: i64,
                since: kendrix_core::UnixMillis,
            ) -> $crate::StoreResult<Vec<$crate::BatchFigures>> {
                Ok(sqlx::query_as($crate::sql::BATCH_FIGURES)
                    .bind(tenant_id)
                    .bind(since)
                    .fetch_all(self.db.reader())
                    .await?)
            }

            async fn entity_figures(
                &self,
                tenant_id: i64,
                since: kendrix_core::UnixMillis,
            ) -> $crate::StoreResult<Vec<$crate::EntityFigures>> {
                Ok(sqlx::query_as($crate::sql::ENTITY_FIGURES)
                    .bind(tenant_id)
                    .bind(since)
                    .fetch_all(self.db.reader())
                    .await?)
            }
        }

        impl $store {
            async fn apply_batch_in_one_transaction(
                &self,
                batch: $crate::BatchToApply,
                render: $crate::RenderResponse<'_>,
            ) -> $crate::StoreResult<$crate::AppliedBatch> {
                use $crate::sync as apply;
                let records = &batch.records;
                let (texts, hashes) = apply::texts_and_hashes(records);
                let mut tx = self.db.begin().await?;
                let stored = <$conn>::stored_versions(&mut tx, batch.tenant_id, records).await?;
                let mut decisions = apply::decide_all(records, &hashes, &stored);
                let rows = apply::rows_to_write(records, &texts, &hashes, &decisions);
                let written = <$conn>::upsert_records(
                    &mut tx,
                    batch.tenant_id,
                    batch.client_pk,
                    &batch.batch_id,
                    batch.received_at,
                    &rows,
                )
                .await?;
                // Fewer rows written than decided: another batch wrote a newer version between
                // our read and our write (PostgreSQL, several instances). Find those records
                // and decide them again against what is stored now.
                if written < rows.len() as u64 {
                    let now_stored = <$conn>::stored_versions(&mut tx, batch.tenant_id, records).await?;
                    let lost = apply::lost_races(records, &decisions, &batch.batch_id, &now_stored);
                    let again = apply::decide_all(records, &hashes, &now_stored);
                    for (i, decision) in again.into_iter().enumerate() {
                        if lost.contains(&i) {
                            decisions[i] = decision;
                        }
                    }
                }
                let tally = apply::tally(records, &decisions);

                let mut marks = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO sync_versions (tenant_id, client_pk, entity, newest_version, \
                     last_batch_id, applied, duplicate, stale, updated_at) ",
                );
                marks.push_values(&tally.per_entity, |mut row, (entity, counts)| {
                    row.push_bind(batch.tenant_id)
                        .push_bind(batch.client_pk)
                        .push_bind(entity.clone())
                        .push_bind(tally.newest.get(entity).cloned().unwrap_or_default())
                        .push_bind(batch.batch_id.clone())
                        .push_bind(counts.applied as i64)
                        .push_bind(counts.duplicate as i64)
                        .push_bind(counts.stale as i64)
                        .push_bind(batch.received_at);
                });
                marks.push(
                    " ON CONFLICT (tenant_id, client_pk, entity) DO UPDATE SET \
                     newest_version = CASE WHEN excluded.newest_version > sync_versions.newest_version \
                       THEN excluded.newest_version ELSE sync_versions.newest_version END, \
                     last_batch_id = excluded.last_batch_id, \
                     applied = sync_versions.applied + excluded.applied, \
                     duplicate = sync_versions.duplicate + excluded.duplicate, \
                     stale = sync_versions.stale + excluded.stale, \
                     updated_at = excluded.updated_at",
                );
                marks.build().execute(&mut *tx).await?;

                let duration_us = batch.started.elapsed().as_micros() as i64;
                sqlx::query($crate::sql::INSERT_BATCH)
                    .bind(&batch.batch_id)
                    .bind(batch.tenant_id)
                    .bind(batch.client_pk)
                    .bind(Some(batch.idempotency_key.clone()))
                    .bind(batch.received_at)
                    .bind(records.len() as i64)
                    .bind(tally.total.applied as i64)
                    .bind(tally.total.duplicate as i64)
                    .bind(tally.total.stale as i64)
                    .bind(tally.total.rejected as i64)
                    .bind(duration_us)
                    .bind("applied")
                    .execute(&mut *tx)
                    .await?;
                let mut entities = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO sync_batch_entities (batch_id, entity, applied, duplicate, stale, rejected) ",
                );
                entities.push_values(&tally.per_entity, |mut row, (entity, counts)| {
                    row.push_bind(batch.batch_id.clone())
                        .push_bind(entity.clone())
                        .push_bind(counts.applied as i64)
                        .push_bind(counts.duplicate as i64)
                        .push_bind(counts.stale as i64)
                        .push_bind(counts.rejected as i64);
                });
                entities.build().execute(&mut *tx).await?;

                let response = apply::response(&batch.batch_id, records, &decisions, tally.total);
                let body = render(&response);
                let audit = batch
                    .audit
                    .clone()
                    .with_detail("batch_id", batch.batch_id.clone())
                    .with_detail("records", records.len())
                    .with_detail("applied", tally.total.applied)
                    .with_detail("duplicate", tally.total.duplicate)
                    .with_detail("stale", tally.total.stale)
                    .with_detail("rejected", tally.total.rejected)
                    .with_detail("duration_ms", duration_us as f64 / 1000.0)
                    .with_detail("idempotency_key", batch.idempotency_key.clone());
                <$conn>::append_audit_in(&mut tx, &[audit]).await?;
                if let Some(hash) = &batch.config_hash {
                    sqlx::query($crate::sql::REPORT_CONFIG)
                        .bind(batch.client_pk)
                        .bind(hash)
                        .bind(batch.received_at)
                        .execute(&mut *tx)
                        .await?;
                }
                let completed = sqlx::query($crate::sql::COMPLETE_KEY)
                    .bind(batch.client_pk)
                    .bind(&batch.idempotency_key)
                    .bind(&batch.owner)
                    .bind(200_i32)
                    .bind(&body)
                    .bind(batch.received_at + batch.retention_ms)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if completed != 1 {
                    // Dropping the transaction rolls every write of this batch back.
                    return Err($crate::StoreError::LeaseLost);
                }
                tx.commit().await?;
                Ok($crate::AppliedBatch { response, body })
            }
        }
    };
}

pub(crate) use impl_store;
