//! What the engine's story tests share.

use kendrix_core::sync::{Change, Op};
use serde_json::json;

/// `n` order upserts with ids `o<from>`… (four digits), each with its number as data.
pub fn orders(from: usize, n: usize) -> Vec<Change> {
    (from..from + n)
        .map(|i| {
            Change::new(
                "orders",
                format!("o{i:04}").as_str(),
                Op::Upsert,
                None,
                json!({"n": i}).as_object().cloned(),
            )
            .unwrap()
        })
        .collect()
}
