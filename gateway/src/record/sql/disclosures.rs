//! [`Disclosures`] on a SQL backend: a data protection officer's report, audited.

use super::{Backend, SqlStore};
use crate::record::rows;
use crate::record::{Disclosure, DisclosureRequest, Disclosures, StoreError, timestamp};
use async_trait::async_trait;
use contract::plumbing::sql::Tx;

#[async_trait]
impl<B: Backend> Disclosures for SqlStore<B> {
    /// Audits a disclosure report, then lists the messages about the subject that the
    /// organisations of the request's reach sent or received, in one transaction.
    async fn disclosures(
        &self,
        request: &DisclosureRequest<'_>,
    ) -> Result<Vec<Disclosure>, StoreError> {
        let (at, request_id) = (timestamp(self.clock.now()), request.request_id.to_string());
        let (mut tx, head) = self.begin_audited().await?;
        tx.execute("INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient, subject_hash)
             VALUES ($1, $2, 'disclosure_report', $3, '', 'gdpr.art15', '', $4)",
            &[
                (&at).into(),
                (&request.organisation.0).into(),
                (&request_id).into(),
                request.subject_hash.into(),
            ],
        )
        .await?;
        let rows = tx
            .fetch(
                &format!(
                "SELECT id, sender, recipient, kind, legal_basis, created_at, status, updated_at
                 FROM messages WHERE {} ORDER BY created_at, id",
                B::SUBJECT_IN
            ),
                &[request.subject_hash.into()],
            )
            .await?;
        self.commit_audited(tx, head).await?;
        let found = rows
            .iter()
            .map(rows::disclosure)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(found
            .into_iter()
            .filter(|d| request.reach.covers(&d.sender, &d.recipient))
            .collect())
    }
}
