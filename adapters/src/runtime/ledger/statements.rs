//! The ledger's statements, written once for both backends: [`sql_ledger!`] implements
//! [`super::Ledger`] for a ledger type with a `pool` and a `lease`, given how its database
//! writes "now" and "now plus `$2` seconds" (the only thing in which they differ).

/// Implements [`super::Ledger`] for `$ledger`, whose database writes the current time as
/// `$now` and the time `$2` seconds from now as `$later` (SQL text).
macro_rules! sql_ledger {
    ($ledger:ty, now: $now:literal, later: $later:literal) => {
        #[async_trait::async_trait]
        impl $crate::runtime::ledger::Ledger for $ledger {
            /// How long a claim holds.
            fn lease(&self) -> std::time::Duration {
                self.lease
            }

            /// What the ledger knows of `message_id`.
            async fn entry(
                &self,
                message_id: &contract::message::MessageId,
            ) -> Result<$crate::runtime::ledger::Entry, sqlx::Error> {
                let row: Option<(String, Option<String>, Option<bool>)> = sqlx::query_as(concat!(
                    "SELECT state, recipient, lease_until > ",
                    $now,
                    " FROM ledger WHERE message_id = $1"
                ))
                .bind(message_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok($crate::runtime::ledger::Entry::of_row(row))
            }

            /// Claims the delivery of `message_id` for the lease: an insert if absent, or a
            /// take-over of a claim whose lease ran out (its holder died, or left the outcome
            /// unknown), in one statement.
            async fn claim(
                &self,
                message_id: &contract::message::MessageId,
            ) -> Result<$crate::runtime::ledger::Claim, sqlx::Error> {
                use $crate::runtime::ledger::Claim;
                let won: Option<i64> = sqlx::query_scalar(concat!(
                    "INSERT INTO ledger (message_id, state, lease_until)
                     VALUES ($1, 'delivering', ",
                    $later,
                    ")
                     ON CONFLICT (message_id) DO UPDATE SET lease_until = excluded.lease_until,
                         unknown = ledger.unknown + 1
                         WHERE ledger.state = 'delivering' AND ledger.lease_until <= ",
                    $now,
                    " RETURNING CAST(unknown AS BIGINT)"
                ))
                .bind(message_id)
                .bind(i64::try_from(self.lease.as_secs()).unwrap_or(i64::MAX))
                .fetch_optional(&self.pool)
                .await?;
                Ok(match won {
                    Some(0) => Claim::Won,
                    Some(_) => Claim::WonAfterUnknown,
                    None => Claim::Lost(self.entry(message_id).await?),
                })
            }

            /// Renews a claim whose lease still runs, for another lease.
            async fn renew(
                &self,
                message_id: &contract::message::MessageId,
            ) -> Result<bool, sqlx::Error> {
                let renewed = sqlx::query(concat!(
                    "UPDATE ledger SET lease_until = ",
                    $later,
                    " WHERE message_id = $1 AND state = 'delivering' AND lease_until > ",
                    $now,
                    " RETURNING message_id"
                ))
                .bind(message_id)
                .bind(i64::try_from(self.lease.as_secs()).unwrap_or(i64::MAX))
                .fetch_optional(&self.pool)
                .await?;
                Ok(renewed.is_some())
            }

            /// Ends a claim after an attempt whose outcome is unknown: the next copy may
            /// claim it at once, knowing that the agency may have it.
            async fn unknown(
                &self,
                message_id: &contract::message::MessageId,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(concat!(
                    "UPDATE ledger SET lease_until = ",
                    $now,
                    " WHERE message_id = $1 AND state = 'delivering'"
                ))
                .bind(message_id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            /// Notes a delivery (to `recipient`: the agency that took it).
            async fn delivered(
                &self,
                message_id: &contract::message::MessageId,
                recipient: &str,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO ledger (message_id, state, recipient) VALUES ($1, 'delivered', $2)
                     ON CONFLICT (message_id) DO UPDATE SET state = 'delivered',
                         recipient = excluded.recipient, lease_until = NULL
                         WHERE ledger.state = 'delivering'",
                )
                .bind(message_id)
                .bind(recipient)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            /// Gives up a claim after an attempt that did not deliver, so that the next
            /// copy may claim it at once.
            async fn release(
                &self,
                message_id: &contract::message::MessageId,
            ) -> Result<(), sqlx::Error> {
                sqlx::query("DELETE FROM ledger WHERE message_id = $1 AND state = 'delivering'")
                    .bind(message_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            /// Notes that `message_id` must never be delivered, unless it was delivered
            /// already or is being delivered; returns what it found and did. Each change is
            /// one statement: a claim that ran out is stopped (and marked, by `unknown`, as
            /// one the agency may have, which a later withdrawal finds again), or else an
            /// absent message is; a claim taken in between is found as being delivered.
            async fn withdraw(
                &self,
                message_id: &contract::message::MessageId,
            ) -> Result<$crate::runtime::ledger::Stopped, sqlx::Error> {
                use $crate::runtime::ledger::Stopped;
                let ran_out = sqlx::query(concat!(
                    "UPDATE ledger SET state = 'withdrawn', lease_until = NULL, unknown = unknown + 1
                     WHERE message_id = $1 AND ((state = 'delivering' AND lease_until <= ",
                    $now,
                    ") OR (state = 'withdrawn' AND unknown > 0)) RETURNING message_id"
                ))
                .bind(message_id)
                .fetch_optional(&self.pool)
                .await?;
                if ran_out.is_some() {
                    return Ok(Stopped::AfterUnknown);
                }
                let absent = sqlx::query(
                    "INSERT INTO ledger (message_id, state) VALUES ($1, 'withdrawn')
                     ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
                )
                .bind(message_id)
                .fetch_optional(&self.pool)
                .await?;
                match absent {
                    Some(_) => Ok(Stopped::Before),
                    None => Ok(Stopped::Not(self.entry(message_id).await?)),
                }
            }
        }
    };
}
pub(crate) use sql_ledger;
