//! Every error path of the intake API: each answers `application/problem+json` with its
//! stable type, and changes nothing (nothing recorded, nothing routed).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contract::directory::Transport;
use gateway::devkeys::DevKey;
use serde_json::{Value, json};
use tests::{Harness, SCHOOL, bekymringsmelding, problem};

/// Asserts that nothing about `message` was recorded or routed.
async fn nothing_changed(h: &Harness, message: &Value) {
    let id = message["messageId"].as_str().unwrap();
    assert_eq!(
        h.status(&h.token(SCHOOL), id).await.status(),
        404,
        "not recorded"
    );
    for adapter in Transport::ALL {
        assert_eq!(
            h.count(&h.topology().work_queue(adapter)).await,
            0,
            "not routed to {adapter:?}"
        );
    }
}

#[tokio::test]
async fn unlawful_messages_from_valid_senders_are_refused_and_change_nothing() {
    let h = Harness::new().await;
    type Attack = (&'static str, &'static str, fn(&mut Value));
    let attacks: [Attack; 6] = [
        ("an adult flagged unborn", "subject-not-covered", |m| {
            let child = &mut m["payload"]["offentligBarn"][0];
            child["fnr"] = json!("01059012345");
            child["ufoedt"] = json!(true);
            m["subject"] = json!({ "unborn": true });
        }),
        ("a younger age claimed", "subject-not-covered", |m| {
            m["subject"] = json!({ "age": 3 });
        }),
        (
            "a bekymringsmelding to the police contact",
            "recipient-mismatch",
            |m| {
                m["recipient"] = json!("no-oslo-politikontakt");
            },
        ),
        (
            "a bekymringsmelding to the SSPF coordinator",
            "recipient-mismatch",
            |m| {
                m["recipient"] = json!("se-malmo-sspf");
            },
        ),
        (
            "a Swedish basis for a Norwegian message",
            "cross-border",
            |m| {
                m["legalBasis"]["tag"] = json!("se.osl.10-28");
            },
        ),
        ("the old consent tag", "legal-basis-unknown", |m| {
            m["legalBasis"]["tag"] = json!("se.osl.10-1");
        }),
    ];
    for (what, slug, attack) in attacks {
        let mut message = bekymringsmelding();
        message["messageId"] = json!(uuid::Uuid::new_v4());
        attack(&mut message);
        let body = problem(h.post(&h.token(SCHOOL), &message).await, 422, slug).await;
        assert!(!body["errors"].as_array().unwrap().is_empty(), "{what}");
        nothing_changed(&h, &message).await;
    }
    h.cleanup().await;
}

#[tokio::test]
async fn tokens_that_are_missing_expired_forged_or_not_for_us_get_401() {
    let h = Harness::new().await;
    let message = bekymringsmelding();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let foreign_key = DevKey::ensure(&h.dir.join("foreign-keys")).unwrap();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"dev-1"}"#);
    let claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&h.claims(SCHOOL)).unwrap());
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &h.claims(SCHOOL),
        &jsonwebtoken::EncodingKey::from_secret(b"guessable"),
    )
    .unwrap();
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("no token", None, "no bearer token"),
        ("not a JWT", Some("abc.def".into()), "well-formed"),
        (
            "alg none",
            Some(format!("{header}.{claims}.")),
            "well-formed",
        ),
        ("HS256 instead of EdDSA", Some(hs256), "algorithm"),
        (
            "expired",
            Some(h.sign(&{
                let mut c = h.claims(SCHOOL);
                c.exp = now - 3600;
                c.nbf = now - 7200;
                c
            })),
            "expired",
        ),
        (
            "not yet valid",
            Some(h.sign(&{
                let mut c = h.claims(SCHOOL);
                c.nbf = now + 3600;
                c.exp = now + 7200;
                c
            })),
            "not valid yet",
        ),
        (
            "wrong audience",
            Some(h.sign(&{
                let mut c = h.claims(SCHOOL);
                c.aud = "another-service".into();
                c
            })),
            "audience",
        ),
        (
            "wrong issuer",
            Some(h.sign(&{
                let mut c = h.claims(SCHOOL);
                c.iss = "https://evil.invalid".into();
                c
            })),
            "issuer",
        ),
        (
            "signed by another key",
            Some(foreign_key.sign(&h.claims(SCHOOL)).unwrap()),
            "signature",
        ),
    ];
    for (case, token, detail) in cases {
        let mut request = h
            .http
            .post(format!("{}/v1/messages", h.base()))
            .json(&message);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{case}");
        let body = problem(response, 401, "unauthenticated").await;
        assert!(
            body["detail"].as_str().unwrap().contains(detail),
            "{case}: {body}"
        );
    }
    nothing_changed(&h, &message).await;
    h.cleanup().await;
}

#[tokio::test]
async fn a_token_for_an_organisation_outside_the_directory_gets_403() {
    let h = Harness::new().await;
    let message = bekymringsmelding();
    problem(
        h.post(&h.token("no-such-school"), &message).await,
        403,
        "unknown-organisation",
    )
    .await;
    nothing_changed(&h, &message).await;
    h.cleanup().await;
}

#[tokio::test]
async fn bodies_that_are_too_large_not_json_or_malformed_are_refused() {
    let h = Harness::new().await;
    let token = h.token(SCHOOL);
    let mut message = bekymringsmelding();
    message["payload"]["melding"]["historie"] = "x".repeat(70 * 1024).into();
    problem(h.post(&token, &message).await, 413, "body-too-large").await;

    let chunked = h
        .http
        .post(format!("{}/v1/messages", h.base()))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            (0..80).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])),
        )))
        .send()
        .await
        .unwrap();
    problem(chunked, 413, "body-too-large").await;

    let text = h
        .http
        .post(format!("{}/v1/messages", h.base()))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(bekymringsmelding().to_string())
        .send()
        .await
        .unwrap();
    problem(text, 415, "unsupported-media-type").await;

    let broken = h
        .http
        .post(format!("{}/v1/messages", h.base()))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"messageId\": \"6f1c2f0e")
        .send()
        .await
        .unwrap();
    let body = problem(broken, 400, "malformed-json").await;
    assert!(body["detail"].as_str().unwrap().contains("line 1"));
    nothing_changed(&h, &message).await;
    h.cleanup().await;
}

#[tokio::test]
async fn unknown_fields_get_422_naming_each_one() {
    let h = Harness::new().await;
    let mut message = bekymringsmelding();
    message["sender"] = "no-bergen-nordnes-skole".into();
    message["payload"]["offentligBarn"][0]["diagnose"] = "ADHD".into();
    let body = problem(
        h.post(&h.token(SCHOOL), &message).await,
        422,
        "invalid-message",
    )
    .await;
    let errors = body["errors"].as_array().unwrap();
    for pointer in ["/sender", "/payload/offentligBarn/0/diagnose"] {
        assert!(
            errors
                .iter()
                .any(|e| e["pointer"] == pointer && e["code"] == "unknown_field"),
            "{pointer} named in {errors:?}"
        );
    }
    assert!(
        !body.to_string().contains("ADHD"),
        "values are never echoed"
    );
    nothing_changed(&h, &message).await;
    h.cleanup().await;
}

#[tokio::test]
async fn routing_and_legal_basis_refusals_name_their_rule() {
    let h = Harness::new().await;
    let token = h.token(SCHOOL);
    type Mutation = fn(&mut Value);
    let cases: Vec<(&str, Mutation, u16, &str, &str)> = vec![
        (
            "unknown basis",
            (|m| m["legalBasis"]["tag"] = "no.bvl2021.99-9".into()),
            422,
            "legal-basis-unknown",
            "/legalBasis/tag",
        ),
        (
            "basis not in force",
            (|m| m["legalBasis"]["tag"] = "no.fvl1967.13g".into()),
            422,
            "legal-basis-not-in-force",
            "/legalBasis/tag",
        ),
        (
            "basis for another kind",
            (|m| m["legalBasis"]["tag"] = "no.fvl1967.13a-2".into()),
            422,
            "legal-basis-not-applicable",
            "/kind",
        ),
        (
            "health basis from a school",
            (|m| m["legalBasis"]["tag"] = "no.hpl.33".into()),
            422,
            "legal-basis-not-applicable",
            "/legalBasis/tag",
        ),
        (
            "unknown recipient",
            (|m| m["recipient"] = "no-nowhere-barnevern".into()),
            422,
            "unknown-recipient",
            "/recipient",
        ),
        (
            "barnevern of another municipality",
            (|m| m["recipient"] = "no-bergen-barnevern".into()),
            422,
            "recipient-mismatch",
            "/payload/kommunenummer",
        ),
        (
            "reporter from another organisation",
            (|m| m["payload"]["offentligMelder"]["virksomhet"]["orgnr"] = "964338000".into()),
            403,
            "sender-mismatch",
            "/payload/offentligMelder/virksomhet/orgnr",
        ),
    ];
    for (case, mutate, status, slug, pointer) in cases {
        let mut message = bekymringsmelding();
        mutate(&mut message);
        let body = problem(h.post(&token, &message).await, status, slug).await;
        assert_eq!(body["errors"][0]["pointer"], pointer, "{case}");
        nothing_changed(&h, &message).await;
    }
    h.cleanup().await;
}

#[tokio::test]
async fn problem_types_are_documented_by_the_api() {
    let h = Harness::new().await;
    let list: Vec<Value> = h.get("/problems", None).await.json().await.unwrap();
    assert!(
        list.iter()
            .any(|p| p["type"] == "/problems/body-too-large" && p["status"] == 413)
    );
    let one: Value = h
        .get("/problems/unauthenticated", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["status"], 401);
    let live = h.get("/healthz", None).await;
    assert_eq!(live.status(), 200);
    let ready = h.get("/readyz", None).await;
    assert_eq!(ready.status(), 200);
    problem(h.get("/v2/nothing", None).await, 404, "not-found").await;
    h.cleanup().await;
}

#[tokio::test]
async fn keys_come_from_a_jwks_url_refetched_when_a_token_names_an_unknown_key() {
    let served = std::sync::Arc::new(tokio::sync::RwLock::new(json!({ "keys": [] })));
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get({
            let served = served.clone();
            move || async move { axum::Json(served.read().await.clone()) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let h = Harness::with(|c| {
        c.auth.jwks = url.clone();
        c.auth.dev_key_dir = None;
    })
    .await;
    assert!(h.link_up(std::time::Duration::from_secs(20)).await);
    let message = bekymringsmelding();
    problem(
        h.post(&h.token(SCHOOL), &message).await,
        401,
        "unauthenticated",
    )
    .await;
    *served.write().await = h.jwks();
    assert_eq!(
        h.post(&h.token(SCHOOL), &message).await.status(),
        202,
        "key rotated in"
    );
    h.cleanup().await;
}

#[tokio::test]
async fn the_api_is_served_over_tls_when_a_certificate_is_configured() {
    let dir = std::env::temp_dir().join(format!("gw-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert_pem = certified.cert.pem();
    std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem()).unwrap();
    let h = Harness::with(|c| {
        c.http.tls = Some(gateway::config::TlsConfig {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            clients: None,
            reload_secs: 60,
        })
    })
    .await;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let port = h.gateway.as_ref().unwrap().addr.port();
    let live = client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let plain = h
        .http
        .get(format!("http://localhost:{port}/healthz"))
        .send()
        .await;
    assert!(
        plain.is_err() || !plain.unwrap().status().is_success(),
        "no plain HTTP on the TLS port"
    );
    h.cleanup().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Personal data an attacker plants where names, values, paths and parameters go.
const PLANTED: [&str; 3] = ["Kari Nordmann", "01059012345", "kari@example.invalid"];

/// Sends `request` and checks the answer: an error is problem+json, and nothing planted
/// comes back, in the body or a header.
async fn echoes_nothing(what: &str, request: reqwest::RequestBuilder) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = format!("{:?}", response.headers());
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    if status.is_client_error() || status.is_server_error() {
        assert_eq!(
            content_type, "application/problem+json",
            "{what}: {status} {body}"
        );
    }
    for planted in PLANTED {
        let encoded = planted.replace(' ', "%20");
        for seen in [&body, &headers] {
            assert!(
                !seen.contains(planted) && !seen.contains(&encoded),
                "{what}: answer echoes planted data: {seen}"
            );
        }
    }
}

#[tokio::test]
async fn no_answer_echoes_what_the_request_planted() {
    let h = Harness::new().await;
    let token = h.token(SCHOOL);
    let url = |path: &str| format!("{}{path}", h.base());
    let post = |body: String| {
        h.http
            .post(url("/v1/messages"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
    };
    let name = PLANTED[0];
    let fnr = PLANTED[1];
    let mut bodies: Vec<(String, Value)> = Vec::new();
    let mut with = |what: &str, edit: &dyn Fn(&mut Value)| {
        let mut m = bekymringsmelding();
        edit(&mut m);
        bodies.push((what.to_owned(), m));
    };
    with("unknown property named with a person", &|m| {
        m[name] = json!(fnr);
    });
    with("unknown nested property named with an fnr", &|m| {
        m["payload"]["offentligBarn"][0][fnr] = json!(name);
    });
    with("unknown property in the legal basis", &|m| {
        m["legalBasis"][PLANTED[2]] = json!(true);
    });
    with("attestation named with a person", &|m| {
        m["legalBasis"]["attestation"][name] = json!(true);
    });
    with("attestation value", &|m| {
        m["legalBasis"]["attestation"]["reason_to_believe"] = json!(name);
    });
    with("tag", &|m| {
        m["legalBasis"]["tag"] = json!(format!("no.x.{fnr}"))
    });
    with("recipient", &|m| m["recipient"] = json!(fnr));
    with("consent reference", &|m| {
        m["legalBasis"]["consentRef"] = json!(fnr)
    });
    with("message id", &|m| m["messageId"] = json!(name));
    with("kind", &|m| m["kind"] = json!(name));
    with("subject age", &|m| m["subject"] = json!({ "age": fnr }));
    with("subject birth date", &|m| {
        m["subject"] = json!({ "birthDate": fnr })
    });
    with("a value of the wrong type", &|m| {
        m["payload"]["offentligBarn"][0]["fnr"] = json!(format!("{name} {fnr}"));
    });
    with(
        "payload field of a valid message to the wrong place",
        &|m| {
            m["recipient"] = json!("no-bergen-barnevern");
            m["payload"]["offentligBarn"][0]["personnavn"] = json!(name);
        },
    );
    for (what, body) in bodies {
        echoes_nothing(what.as_str(), post(body.to_string())).await;
    }
    echoes_nothing("not JSON", post(format!("{{\"name\": \"{name}\", {fnr}"))).await;
    for path in [
        format!("/v1/messages/{fnr}"),
        format!("/v1/consents/{name}"),
        format!("/v1/legal-bases/{fnr}"),
        format!("/problems/{name}"),
        format!("/{name}/{fnr}"),
        format!("/v1/messages?{name}={fnr}"),
        format!("/v1/messages?overdue={fnr}"),
        "/v1/messages/%FF%FE".to_owned(),
    ] {
        echoes_nothing(
            &format!("GET {path}"),
            h.http.get(url(&path)).bearer_auth(&token),
        )
        .await;
    }
    echoes_nothing(
        "wrong method",
        h.http
            .delete(url(&format!("/v1/messages/{fnr}")))
            .bearer_auth(&token),
    )
    .await;
    echoes_nothing(
        "token made of personal data",
        h.http
            .get(url("/v1/messages"))
            .header("authorization", format!("Bearer {fnr}.{fnr}.x")),
    )
    .await;
    echoes_nothing(
        "content type",
        h.http
            .post(url("/v1/messages"))
            .bearer_auth(&token)
            .header("content-type", format!("text/{fnr}"))
            .body(bekymringsmelding().to_string()),
    )
    .await;
    h.cleanup().await;
}

#[tokio::test]
async fn wrong_methods_and_bad_parameters_get_problems() {
    let h = Harness::new().await;
    let token = h.token(SCHOOL);
    let response = h
        .http
        .delete(format!("{}/v1/messages", h.base()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    problem(response, 405, "method-not-allowed").await;
    for query in ["overdue=maybe", "unknown=1"] {
        let response = h.get(&format!("/v1/messages?{query}"), Some(&token)).await;
        problem(response, 400, "bad-request").await;
    }
    h.cleanup().await;
}

#[tokio::test]
async fn oversized_tokens_and_headers_get_431_and_change_nothing() {
    let h = Harness::new().await;
    let token = h.token(SCHOOL);
    let padded = |bytes: usize| format!("{token}{}", "A".repeat(bytes));
    let post = |authorization: String, extra: Option<String>| {
        let mut request = h
            .http
            .post(format!("{}/v1/messages", h.base()))
            .header("Authorization", authorization)
            .json(&bekymringsmelding());
        if let Some(extra) = extra {
            request = request.header("X-Padding", extra);
        }
        request.send()
    };
    // A token of 9 KiB, of 130 KiB, and an ordinary token beside 20 KiB of other headers.
    for (what, authorization, extra) in [
        (
            "a 9 KiB token",
            format!("Bearer {}", padded(9 * 1024)),
            None,
        ),
        (
            "a 130 KiB token",
            format!("Bearer {}", padded(130 * 1024)),
            None,
        ),
        (
            "20 KiB of headers",
            format!("Bearer {token}"),
            Some("x".repeat(20 * 1024)),
        ),
    ] {
        let answer = post(authorization, extra).await.unwrap();
        let problem = tests::problem(answer, 431, "headers-too-large").await;
        assert!(!problem.to_string().contains("AAAA"), "{what}: echoed");
    }
    let listed: Value = h
        .get("/v1/messages", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["messages"], json!([]), "nothing recorded");
    h.cleanup().await;
}

#[tokio::test]
async fn tokens_with_unknown_critical_extensions_long_lives_future_issue_or_wrong_type_get_401() {
    let h = Harness::with(|c| c.auth.typ = Some("at+jwt".into())).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let at_jwt = |typ: &str| {
        let typ = typ.to_owned();
        move |header: &mut jsonwebtoken::Header| header.typ = Some(typ)
    };
    let claims = h.claims(SCHOOL);
    let lifetime = |secs: i64| {
        let mut c = h.claims(SCHOOL);
        c.iat = now;
        c.nbf = now;
        c.exp = now + secs;
        c
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "crit naming an extension",
            h.sign_with(&claims, |header| {
                header.typ = Some("at+jwt".into());
                header.crit = Some(vec!["exp".into()]);
            }),
            "critical",
        ),
        (
            "empty crit",
            h.sign_with(&claims, |header| {
                header.typ = Some("at+jwt".into());
                header.crit = Some(vec![]);
            }),
            "critical",
        ),
        (
            "typ JWT where at+jwt is required",
            h.sign_with(&claims, at_jwt("JWT")),
            "type",
        ),
        (
            "no typ",
            h.sign_with(&claims, |header| header.typ = None),
            "type",
        ),
        (
            "lives a day",
            h.sign_with(&lifetime(86_400), at_jwt("at+jwt")),
            "longer",
        ),
        (
            "lives forever",
            h.sign_with(&lifetime(i64::MAX - now), at_jwt("at+jwt")),
            "longer",
        ),
        (
            "issued in an hour",
            h.sign_with(
                &{
                    let mut c = h.claims(SCHOOL);
                    c.iat = now + 3600;
                    c
                },
                at_jwt("at+jwt"),
            ),
            "future",
        ),
    ];
    let message = bekymringsmelding();
    for (what, token, says) in cases {
        let body = problem(h.post(&token, &message).await, 401, "unauthenticated").await;
        assert!(
            body["detail"].as_str().unwrap().contains(says),
            "{what}: {body}"
        );
    }
    let id = message["messageId"].as_str().unwrap();
    let reader = h.sign_with(&claims, at_jwt("at+jwt"));
    assert_eq!(h.status(&reader, id).await.status(), 404, "not recorded");
    // The scheme is case-insensitive, and typ may carry its media-type prefix.
    for (scheme, typ) in [("bearer", "at+jwt"), ("BEARER", "application/AT+JWT")] {
        let token = h.sign_with(&claims, at_jwt(typ));
        let response = h
            .http
            .get(format!("{}/v1/messages", h.base()))
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{scheme} {typ}");
    }
    h.cleanup().await;
}

/// A client that sends a post's headers and the start of its body, then stalls.
async fn stalled_post(h: &Harness, token: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stalled = tokio::net::TcpStream::connect(h.gateway.as_ref().unwrap().addr)
        .await
        .unwrap();
    stalled
        .write_all(
            format!(
                "POST /v1/messages HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer {token}\r\n\
                 content-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"messageId\""
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    stalled
}

#[tokio::test]
async fn a_request_beyond_the_ones_handled_at_once_is_shed_and_changes_nothing() {
    let h = Harness::with(|c| c.http.max_in_flight = std::num::NonZeroUsize::MIN).await;
    let token = h.token(SCHOOL);
    // A client that stalls in its body holds the only turn.
    let stalled = stalled_post(&h, &token).await;
    let legal_bases = || h.get("/v1/legal-bases", None);
    let shed = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let answer = legal_bases().await;
            if answer.status() == 503 {
                return answer;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the stalled request takes the only turn");
    problem(shed, 503, "overloaded").await;

    // Meanwhile a message is shed before it is read: nothing recorded or routed.
    let message = bekymringsmelding();
    let answer = h.post(&token, &message).await;
    assert_eq!(answer.headers()["retry-after"], "1");
    let body = problem(answer, 503, "overloaded").await;
    assert!(
        !body
            .to_string()
            .contains(message["messageId"].as_str().unwrap())
    );
    // Health and metrics always answer, and count what was shed.
    assert_eq!(h.get("/healthz", None).await.status(), 200);
    let metrics = h.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("referral_requests_shed_total{route=\"/v1/messages\"} 1"),
        "{metrics}"
    );

    // Once the stalled client is gone, nothing of the shed message is found, and its
    // repeat is accepted.
    drop(stalled);
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while legal_bases().await.status() != 200 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the turn is given back");
    nothing_changed(&h, &message).await;
    assert_eq!(h.post(&token, &message).await.status(), 202);
    h.cleanup().await;
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_and_gives_its_turn_back() {
    use tokio::io::AsyncReadExt;
    let h = Harness::with(|c| {
        c.http.max_in_flight = std::num::NonZeroUsize::MIN;
        c.http.body_timeout_ms = std::num::NonZeroU64::new(300).unwrap();
    })
    .await;
    let token = h.token(SCHOOL);
    let mut stalled = stalled_post(&h, &token).await;
    let mut answer = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stalled.read_to_string(&mut answer),
    )
    .await
    .expect("the stalled request is answered")
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("/problems/body-timeout"), "{answer}");
    // Its turn is given back: the only one there is.
    let message = bekymringsmelding();
    assert_eq!(h.post(&token, &message).await.status(), 202);
    h.cleanup().await;
}
