//! What every backend's [`Transact`] must do, checked by each backend's tests.

use super::{Script, Transact};
use contract::plumbing::sql::Value;

/// A script whose statement fails midway (after one ran) leaves nothing of it, and the
/// next one on the same connection commits, its rows coming back statement by statement.
pub async fn a_failing_script_leaves_nothing(writes: impl Transact) {
    let mut conn = writes.connect().await.unwrap();
    let insert = |p: usize| {
        format!(
            "INSERT INTO settings (name, value) VALUES (${p}, ${}) RETURNING name",
            p + 1
        )
    };
    let setting = |name| vec![Value::Text(Some(name)), Value::Bytes(b"1")];
    let mut failing = Script::new();
    failing.push(insert, setting("first"));
    // The same name again: fails when it runs, after the first insert ran.
    failing.push(insert, setting("first"));
    assert!(writes.run(&mut conn, &failing).await.is_err());
    let mut next = Script::new();
    next.push(insert, setting("second"));
    next.push(insert, setting("third"));
    let rows = writes.run(&mut conn, &next).await.unwrap();
    assert_eq!(rows, [[["second"]], [["third"]]]);
    let mut read = Script::new();
    read.push(
        |_| "SELECT name FROM settings WHERE name IN ('first', 'second', 'third')".into(),
        Vec::new(),
    );
    let mut names: Vec<String> = writes
        .run(&mut conn, &read)
        .await
        .unwrap()
        .concat()
        .concat();
    names.sort();
    assert_eq!(names, ["second", "third"]);
}
