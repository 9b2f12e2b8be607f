//! Organisation certificates over mutual TLS: a Swedish school's certificate (its
//! organizationIdentifier `NTRSE-<orgnr>`, signed by the configured CA) sends without a
//! token and reads its status. A certificate of another CA, an expired or a revoked one
//! fails the handshake; one that names no organisation is 401, one naming an organisation
//! outside the directory 403; none of them records anything. A client without a
//! certificate still sends with a token.

use serde_json::Value;
use tests::tls::{Issued, TestCa};
use tests::{Harness, example, problem, temp_dir};

const SCHOOL: &str = "se-malmo-skola";
const SCHOOL_ID: &str = "NTRSE-2120000001";
const REVOKED: u64 = 13;

/// A client trusting `server_ca`, presenting `identity` if any.
fn client(server_ca: &TestCa, identity: Option<&Issued>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(server_ca.pem.as_bytes()).unwrap()]);
    if let Some(issued) = identity {
        let pem = format!("{}{}", issued.cert, issued.key);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// A gateway serving HTTPS with a certificate of `server_ca`, taking organisation
/// certificates of `client_ca` (its revocation list revoking [`REVOKED`]), reading its TLS
/// files again every `reload_secs`: the harness, its base URL, and the revocation list's file.
async fn mutual_tls_gateway(
    server_ca: &TestCa,
    client_ca: &TestCa,
    reload_secs: u64,
) -> (Harness, String, std::path::PathBuf) {
    let dir = temp_dir();
    let (cert, key) = server_ca.issue(false).write(&dir, "api");
    let ca = client_ca.write(&dir, "clients");
    let crl = dir.join("clients.crl.pem");
    std::fs::write(&crl, client_ca.revocation_list(&[REVOKED])).unwrap();
    let h = Harness::with(|c| {
        c.http.tls = Some(gateway::config::TlsConfig {
            cert,
            key,
            clients: Some(
                gateway::authenticate::certificate::ClientCertificatesConfig {
                    ca,
                    crl: vec![crl.clone()],
                    attribute: "2.5.4.97".into(),
                },
            ),
            reload_secs,
        })
    })
    .await;
    let base = format!("https://localhost:{}", h.base().rsplit(':').next().unwrap());
    (h, base, crl)
}

#[tokio::test]
async fn an_organisation_certificate_names_the_sender_and_bad_ones_get_nothing_in() {
    let (server_ca, client_ca, other_ca) = (
        TestCa::new("api CA"),
        TestCa::new("organisation CA"),
        TestCa::new("another CA"),
    );
    let (h, base, _) = mutual_tls_gateway(&server_ca, &client_ca, 60).await;
    let send = |client: reqwest::Client, message: Value| {
        let url = format!("{base}/v1/messages");
        async move { client.post(url).json(&message).send().await }
    };
    let token = h.token(SCHOOL);
    // What the school's token reads of a message: 200 if it sent it, else 404.
    let seen_by_token = |id: String| {
        let (request, token) = (
            client(&server_ca, None).get(format!("{base}/v1/messages/{id}")),
            token.clone(),
        );
        async move {
            request
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let id_of = |message: &Value| message["messageId"].as_str().unwrap().to_owned();

    // The school's own certificate.
    let school = client_ca.issue_organisation(Some(SCHOOL_ID), 11, false);
    let report = example("se.orosanmalan");
    let id = id_of(&report);
    let answer = send(client(&server_ca, Some(&school)), report)
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let status: Value = client(&server_ca, Some(&school))
        .get(format!("{base}/v1/messages/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["kind"], "se.orosanmalan", "{status}");
    assert_eq!(
        seen_by_token(id).await,
        200,
        "the certificate's agency is the token's"
    );

    // Refused at the handshake: another CA, expired, revoked.
    for (what, issued) in [
        (
            "another CA",
            other_ca.issue_organisation(Some(SCHOOL_ID), 12, false),
        ),
        (
            "expired",
            client_ca.issue_organisation(Some(SCHOOL_ID), 14, true),
        ),
        (
            "revoked",
            client_ca.issue_organisation(Some(SCHOOL_ID), REVOKED, false),
        ),
    ] {
        let report = example("se.orosanmalan");
        assert!(
            send(client(&server_ca, Some(&issued)), report.clone())
                .await
                .is_err(),
            "{what}"
        );
        assert_eq!(
            seen_by_token(id_of(&report)).await,
            404,
            "{what}: nothing recorded"
        );
    }

    // Verified, but naming no organisation, or one outside the directory.
    for (identifier, serial, status, slug) in [
        (None, 15, 401, "unauthenticated"),
        (Some("NTRSE-5560000000"), 16, 403, "unknown-organisation"),
        (Some("NTRDK-2120000001"), 17, 403, "unknown-organisation"),
    ] {
        let issued = client_ca.issue_organisation(identifier, serial, false);
        let report = example("se.orosanmalan");
        let answer = send(client(&server_ca, Some(&issued)), report.clone())
            .await
            .unwrap();
        problem(answer, status, slug).await;
        assert_eq!(
            seen_by_token(id_of(&report)).await,
            404,
            "{slug}: nothing recorded"
        );
    }

    // No certificate: the token is how a client authenticates.
    let report = example("se.orosanmalan");
    let answer = client(&server_ca, None)
        .post(format!("{base}/v1/messages"))
        .bearer_auth(&token)
        .json(&report)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let anonymous = send(client(&server_ca, None), example("se.orosanmalan"))
        .await
        .unwrap();
    problem(anonymous, 401, "unauthenticated").await;
    h.cleanup().await;
}

#[tokio::test]
async fn a_new_revocation_list_refuses_the_certificate_it_revokes_without_a_restart() {
    let (server_ca, client_ca) = (TestCa::new("api CA"), TestCa::new("organisation CA"));
    let (h, base, crl) = mutual_tls_gateway(&server_ca, &client_ca, 1).await;
    let school = client_ca.issue_organisation(Some(SCHOOL_ID), 11, false);
    // A fresh client each time: a new connection, a new handshake.
    let status = || async {
        client(&server_ca, Some(&school))
            .get(format!("{base}/v1/messages/{}", uuid::Uuid::new_v4()))
            .send()
            .await
            .map(|r| r.status().as_u16())
    };
    assert_eq!(status().await.unwrap(), 404, "in: no such message");
    // A list half written is not taken: the one in use stays.
    std::fs::write(&crl, "-----BEGIN X509 CRL-----\nnot a list\n").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(status().await.unwrap(), 404, "still in");
    // The CA revokes the school's certificate: new connections are refused.
    std::fs::write(&crl, client_ca.revocation_list(&[REVOKED, 11])).unwrap();
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while status().await.is_ok() {
        assert!(
            tokio::time::Instant::now() < until,
            "the revoked certificate is refused"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    h.cleanup().await;
}
