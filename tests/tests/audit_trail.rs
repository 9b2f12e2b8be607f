//! The audit trail against whoever holds the database (and nothing else: not the key file,
//! not the exported head): every change they can make to it is found by `gateway audit
//! verify`. The attacker writes to the store directly, with the gateway stopped.

use gateway::record::head::{HEAD, latest};
use gateway::record::{AuditReport, Break, SignedHead};
use std::time::Duration;
use tests::{Harness, SCHOOL, bekymringsmelding};

/// Whoever holds the database: SQL on the store the harness's gateway uses.
enum Holder {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Holder {
    async fn of(h: &Harness) -> Self {
        match &h.config.store.url {
            Some(url) => Self::Postgres(sqlx::PgPool::connect(url).await.unwrap()),
            None => Self::Sqlite(
                sqlx::SqlitePool::connect(&format!(
                    "sqlite://{}",
                    h.config.store.sqlite_path.display()
                ))
                .await
                .unwrap(),
            ),
        }
    }

    async fn run(&self, sql: &str) {
        match self {
            Self::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
            Self::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        }
        .unwrap();
    }

    /// The chain value of entry `seq`.
    async fn chain(&self, seq: i64) -> Option<String> {
        let sql = format!("SELECT chain FROM audit WHERE seq = {seq}");
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await,
            Self::Postgres(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await,
        }
        .unwrap()
    }

    async fn newest(&self) -> i64 {
        let sql = "SELECT max(seq) FROM audit";
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            Self::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .unwrap()
    }

    async fn close(self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// A gateway that has recorded `n` messages (an audit entry each) and exported its head
/// (every second), then stopped.
async fn trail_of(n: usize) -> Harness {
    let mut h = Harness::with(|c| c.audit.head_interval_secs = 1).await;
    let token = h.token(SCHOOL);
    for _ in 0..n {
        assert_eq!(h.post(&token, &bekymringsmelding()).await.status(), 202);
    }
    exported(&h, n as i64).await;
    h.stop_gateway().await;
    h
}

/// Waits until the gateway of `h` has exported its head at `seq`; that head.
async fn exported(h: &Harness, seq: i64) -> SignedHead {
    let file = h.config.audit.head_file.clone().unwrap();
    for _ in 0..50 {
        if let Ok(head) = latest(&file)
            && head.link.seq == seq
        {
            return head;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no head at {seq} exported within 5 s");
}

async fn verify(h: &Harness, head: bool) -> AuditReport {
    let head = head.then(|| h.config.audit.head_file.clone().unwrap());
    gateway::operate::audit_verify(&h.config, head.as_deref())
        .await
        .unwrap()
}

#[tokio::test]
async fn cutting_off_the_oldest_entries_behind_a_forged_anchor_is_found() {
    let h = trail_of(6).await;
    assert!(verify(&h, false).await.breaks.is_empty());
    let db = Holder::of(&h).await;
    let chain = db.chain(3).await.unwrap();
    db.run("DELETE FROM audit WHERE seq <= 3").await;
    // The anchor written as the gateway wrote it before it was authenticated, then with an
    // HMAC made up.
    for anchor in [
        format!("3 {chain}"),
        format!("3 {chain} {}", "ab".repeat(32)),
    ] {
        db.run(&format!(
            "DELETE FROM settings WHERE name = 'audit_anchor';
             INSERT INTO settings (name, value) VALUES ('audit_anchor', CAST('{anchor}' AS {}))",
            if matches!(db, Holder::Sqlite(_)) {
                "BLOB"
            } else {
                "BYTEA"
            }
        ))
        .await;
        let report = verify(&h, false).await;
        assert_eq!(report.breaks, [Break::Anchor { seq: 3 }], "{anchor}");
    }
    // Without an anchor, the gap at the start shows (and the first entry left does not
    // chain on from the beginning).
    db.run("DELETE FROM settings WHERE name = 'audit_anchor'")
        .await;
    let report = verify(&h, false).await;
    assert_eq!(
        report.breaks,
        [
            Break::Removed { after: 0, next: 4 },
            Break::Changed { seq: 4 }
        ]
    );
    db.close().await;
    h.cleanup().await;
}

#[tokio::test]
async fn an_entry_written_without_a_chain_is_found_and_never_chained_by_the_gateway() {
    let mut h = trail_of(2).await;
    let db = Holder::of(&h).await;
    db.run(
        "INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
         VALUES ('2026-12-06T00:00:00.000000Z', 'no-oslo-hasle-skole', 'recorded',
                 'planted', 'no.bekymringsmelding', 'no.bvl2021.13-2', 'no-oslo-barnevern')",
    )
    .await;
    let planted = db.newest().await;
    let report = verify(&h, false).await;
    assert_eq!(report.breaks, [Break::Unchained { seq: planted }]);
    // A running gateway writes on after it, but does not take it for its own.
    h.restart_gateway(|_| {}).await;
    assert!(h.link_up(Duration::from_secs(20)).await);
    let token = h.token(SCHOOL);
    assert_eq!(h.post(&token, &bekymringsmelding()).await.status(), 202);
    h.stop_gateway().await;
    assert_eq!(
        db.chain(planted).await,
        None,
        "the planted entry stays unchained"
    );
    let report = verify(&h, false).await;
    assert_eq!(report.breaks, [Break::Unchained { seq: planted }]);
    assert!(report.head.seq > planted);
    db.close().await;
    h.cleanup().await;
}

#[tokio::test]
async fn cutting_off_the_newest_entries_is_found_against_the_exported_head() {
    let h = trail_of(4).await;
    let file = h.config.audit.head_file.clone().unwrap();
    let report = verify(&h, true).await;
    assert!(report.breaks.is_empty(), "{report:?}");
    let db = Holder::of(&h).await;
    // The newest entry changed in place: its chain no longer the one exported.
    let chain = db.chain(4).await.unwrap();
    db.run(&format!(
        "UPDATE audit SET chain = '{}' WHERE seq = 4",
        "0".repeat(64)
    ))
    .await;
    let report = verify(&h, true).await;
    assert!(
        report.breaks.contains(&Break::HeadChanged { seq: 4 }),
        "{report:?}"
    );
    db.run(&format!("UPDATE audit SET chain = '{chain}' WHERE seq = 4"))
        .await;
    // The newest two entries removed: inside the database nothing shows it.
    db.run("DELETE FROM audit WHERE seq > 2").await;
    assert!(verify(&h, false).await.breaks.is_empty());
    let report = verify(&h, true).await;
    assert_eq!(
        report.breaks,
        [Break::CutOff {
            exported: 4,
            found: 2
        }]
    );
    // A head file rewritten to match (without the key) is not the gateway's.
    let chain = db.chain(2).await.unwrap();
    let forged = serde_json::json!({
        "at": "2026-12-06T00:00:00.000000Z", "seq": 2, "chain": chain, "mac": "ab".repeat(32),
    });
    std::fs::write(&file, format!("{forged}\n")).unwrap();
    let report = verify(&h, true).await;
    assert_eq!(report.breaks, [Break::HeadForged]);
    db.close().await;
    h.cleanup().await;
}

#[tokio::test]
async fn the_head_is_exported_to_the_file_the_log_and_the_metric() {
    let h = Harness::with(|c| c.audit.head_interval_secs = 1).await;
    let token = h.token(SCHOOL);
    assert_eq!(h.post(&token, &bekymringsmelding()).await.status(), 202);
    let head = exported(&h, 1).await;
    // Signed with the key file's audit key.
    let keys = gateway::keys::KeyRing::read(&h.config.keys.file).unwrap();
    assert!(head.link.is_signed(&keys.audit_key(), HEAD, &head.mac));
    let metrics = h.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("referral_audit_head_seq 1"), "{metrics}");
    h.cleanup().await;
}
