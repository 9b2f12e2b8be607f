//! PostgreSQL servers shared by several processes (the gateway's store, the adapters'
//! ledger): the development server, and a schema of one's own on it.

use sqlx::PgPool;

/// The PostgreSQL server of the tests and of development (`ops/postgres/ensure` sets it up):
/// `REFERRAL_TEST_POSTGRES_URL`, or the local development role.
pub fn test_server() -> String {
    std::env::var("REFERRAL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://referral:referral@127.0.0.1:5432/referral".into())
}

/// Creates the schema `<prefix>_<random>` on the server at `server` (a URL whose role may
/// create schemas) and returns the URL that keeps its tables there: one store or ledger per
/// test, or per deployment sharing a database.
pub async fn new_schema(server: &str, prefix: &str) -> Result<String, sqlx::Error> {
    let schema = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let pool = PgPool::connect(server).await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await?;
    pool.close().await;
    let separator = if server.contains('?') { '&' } else { '?' };
    Ok(format!("{server}{separator}options[search_path]={schema}"))
}

/// Drops the schema that a URL of [`new_schema`] keeps its tables in, with its tables;
/// nothing for a URL without one.
pub async fn drop_schema(url: &str) -> Result<(), sqlx::Error> {
    let Some((server, schema)) = url.split_once("options[search_path]=") else {
        return Ok(());
    };
    if !schema
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(sqlx::Error::Configuration(
            format!("not a schema of new_schema: {schema:?}").into(),
        ));
    }
    let pool = PgPool::connect(server.trim_end_matches(['?', '&'])).await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}
