//! The messages of a store of [`super::sql_store!`]: recording, claims, statuses.

/// [`crate::record::Messages`] for a store of [`super::sql_store!`].
macro_rules! messages {
    ($store:ty, reads: $reads:ident, writes: $writes:ident) => {
        #[async_trait::async_trait]
        impl $crate::record::Messages for $store {
            async fn ping(&self) -> Result<(), $crate::record::StoreError> {
                sqlx::query("SELECT 1").execute(&self.$reads).await?;
                Ok(())
            }

            fn shared(&self) -> bool {
                <Self as $crate::record::common::Backend>::SHARED
            }

            /// Records a new message (committed with the batch it joins: group commit).
            async fn record(
                &self,
                msg: &$crate::record::NewMessage,
                hold_until: time::OffsetDateTime,
            ) -> Result<$crate::record::Recorded, $crate::record::StoreError> {
                let msg = Box::new(msg.clone());
                self.batcher
                    .submit(|reply| $crate::record::batch::Write::Record {
                        msg,
                        hold_until,
                        reply,
                    })
                    .await
            }

            /// Marks a message as confirmed by the broker (committed with its batch).
            async fn mark_queued(
                &self,
                id: &contract::message::MessageId,
            ) -> Result<bool, $crate::record::StoreError> {
                let id = *id;
                self.batcher
                    .submit(|reply| $crate::record::batch::Write::MarkQueued { id, reply })
                    .await
            }

            /// Queues the mark for the next batch.
            async fn mark_queued_soon(
                &self,
                id: &contract::message::MessageId,
            ) -> Result<(), $crate::record::StoreError> {
                let id = *id;
                self.batcher
                    .enqueue(|reply| $crate::record::batch::Write::MarkQueued { id, reply })
                    .await
            }

            /// Moves a message to `status` if it may move there (committed with its batch).
            async fn advance(
                &self,
                id: &contract::message::MessageId,
                status: $crate::record::Status,
                reason: Option<&str>,
            ) -> Result<bool, $crate::record::StoreError> {
                let (id, reason) = (*id, reason.map(str::to_owned));
                self.batcher
                    .submit(|reply| $crate::record::batch::Write::Advance {
                        id,
                        status,
                        reason,
                        reply,
                    })
                    .await
            }

            async fn defer(
                &self,
                id: &contract::message::MessageId,
                until: time::OffsetDateTime,
            ) -> Result<(), $crate::record::StoreError> {
                sqlx::query(
                    "UPDATE messages SET attempts = attempts + 1, next_attempt_at = $1
                     WHERE id = $2 AND next_attempt_at IS NOT NULL",
                )
                .bind($crate::record::timestamp(until))
                .bind(id)
                .execute(&self.$writes)
                .await?;
                Ok(())
            }

            async fn dead_letter_expired(
                &self,
                id: &contract::message::MessageId,
            ) -> Result<bool, $crate::record::StoreError> {
                let at = $crate::record::timestamp(self.clock.now());
                let (mut tx, head) = self.begin_audited().await?;
                let moved = sqlx::query(
                    "UPDATE messages SET status = 'expired', status_reason = 'dead letter expired',
                         updated_at = $1, next_attempt_at = NULL
                     WHERE id = $2 AND status = 'failed'",
                )
                .bind(&at)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                let audited = sqlx::query(
                    "INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
                     SELECT $1, 'gateway', 'dead_letter_expired', id, kind, legal_basis, recipient
                     FROM messages WHERE id = $2",
                )
                .bind(&at)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if audited == 0 {
                    // The message itself is gone (past the audit period): the expiry still is.
                    sqlx::query(
                        "INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
                         VALUES ($1, 'gateway', 'dead_letter_expired', $2, '', '', '')",
                    )
                    .bind(&at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                self.commit_audited(tx, head).await?;
                Ok(moved)
            }

            async fn claim_due(
                &self,
                limit: u32,
                lease_until: time::OffsetDateTime,
                take_over: bool,
            ) -> Result<Vec<$crate::record::Outgoing>, $crate::record::StoreError> {
                let sql = format!(
                    "UPDATE messages SET next_attempt_at = $1, claimed_by = $2
                     WHERE id IN (
                         SELECT id FROM messages
                         WHERE status = 'recorded' AND next_attempt_at IS NOT NULL
                           AND {})
                     RETURNING {}",
                    <Self as $crate::record::common::Backend>::CLAIMABLE,
                    $crate::record::rows::OUTGOING,
                );
                let rows = sqlx::query(&sql)
                    .bind($crate::record::timestamp(lease_until))
                    .bind(&self.instance)
                    .bind($crate::record::timestamp(self.clock.now()))
                    .bind(take_over)
                    .bind(i64::from(limit))
                    .fetch_all(&self.$writes)
                    .await?;
                rows.iter().map($crate::record::rows::outgoing).collect()
            }

            async fn claim(
                &self,
                id: &contract::message::MessageId,
                lease_until: time::OffsetDateTime,
            ) -> Result<Option<$crate::record::Outgoing>, $crate::record::StoreError> {
                let sql = format!(
                    "UPDATE messages SET next_attempt_at = $1, claimed_by = $2
                     WHERE id = $3 AND status = 'recorded' AND next_attempt_at IS NOT NULL
                       AND next_attempt_at <= $4
                     RETURNING {}",
                    $crate::record::rows::OUTGOING,
                );
                let row = sqlx::query(&sql)
                    .bind($crate::record::timestamp(lease_until))
                    .bind(&self.instance)
                    .bind(id)
                    .bind($crate::record::timestamp(self.clock.now()))
                    .fetch_optional(&self.$writes)
                    .await?;
                row.as_ref().map($crate::record::rows::outgoing).transpose()
            }

            async fn accepted_counts(
                &self,
            ) -> Result<Vec<(String, i64)>, $crate::record::StoreError> {
                Ok(
                    sqlx::query_as(
                        "SELECT adapter, accepted FROM accepted_counts ORDER BY adapter",
                    )
                    .fetch_all(&self.$reads)
                    .await?,
                )
            }

            async fn status(
                &self,
                client_id: &contract::message::MessageId,
                sender: &contract::directory::AgencyId,
            ) -> Result<Option<$crate::record::StatusView>, $crate::record::StoreError> {
                let statement = $crate::record::rows::status(client_id, &sender.0);
                let view = self.views(&statement).await?.pop();
                if view
                    .as_ref()
                    .is_none_or(|v| v.status != $crate::record::Status::Recorded)
                {
                    return Ok(view);
                }
                // Its mark may be waiting for a batch of this instance.
                self.batcher.settle().await?;
                Ok(self.views(&statement).await?.pop())
            }

            async fn past_due(
                &self,
                checks: &[$crate::record::DueCheck],
                sender: Option<&contract::directory::AgencyId>,
            ) -> Result<Vec<$crate::record::StatusView>, $crate::record::StoreError> {
                if checks.is_empty() {
                    return Ok(Vec::new());
                }
                let sender = sender.map(|s| s.0.as_str());
                self.views(&$crate::record::rows::past_due(checks, sender))
                    .await
            }

            async fn open_messages(
                &self,
                sender: Option<&contract::directory::AgencyId>,
            ) -> Result<Vec<$crate::record::StatusView>, $crate::record::StoreError> {
                let sender = sender.map(|s| s.0.as_str());
                self.views(&$crate::record::rows::open_messages(sender))
                    .await
            }
        }
    };
}
pub(crate) use messages;
