//! Building statements: bound parameters, a filter's `WHERE` condition (primary key,
//! containment, whole-value comparison), ordering, and the one-row condition that
//! `update_one`/`delete_one` use.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use tokio_postgres::types::{ToSql, Type};

use super::PostgresStore;
use super::docs::id_key;
use crate::store::StoreError;

/// A statement's parameters. Every value is bound as `text` and cast in the SQL
/// (`$n::jsonb`): the crate's jsonb support is behind a feature this crate does not
/// enable. Hot statements are prepared once per connection (see `statement`).
#[derive(Default)]
pub(super) struct Params(pub(super) Vec<String>);

impl Params {
    /// Adds a value and returns its placeholder (`$1`, `$2`, ...).
    pub(super) fn push(&mut self, value: String) -> String {
        self.0.push(value);
        format!("${}", self.0.len())
    }

    pub(super) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0.iter().map(|s| s as &(dyn ToSql + Sync)).collect()
    }

    pub(super) fn typed(&self) -> Vec<(&(dyn ToSql + Sync), Type)> {
        self.0
            .iter()
            .map(|s| (s as &(dyn ToSql + Sync), Type::TEXT))
            .collect()
    }
}

/// `value` as JSON text, written straight from the caller's fields (no copy).
/// Writing JSON values with string keys cannot fail; were it ever to, the operation
/// is refused rather than run with a wrong parameter.
pub(super) fn json_text(value: &impl Serialize, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Invalid(format!("cannot write the {what} as JSON: {e}")))
}

/// Whether `doc @> {"k": v}` says exactly "`doc` has `k`, equal to `v`": true for a
/// scalar `v` (string, number, boolean, null). Inside an object, containment
/// compares a scalar only with a scalar of the same type, by the same rule as jsonb
/// `=`; an array or object `v` would also match a superset (`[1, 2]` contains `[1]`).
fn contained_exactly(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

/// A filter's fields that [`condition`] checks by containment (every one but `_id`
/// whose value is a scalar), serialised as one JSON object without copying them.
struct ContainedFields<'a>(&'a Map<String, Value>);

impl ContainedFields<'_> {
    fn fields(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0
            .iter()
            .filter(|(key, value)| key.as_str() != "_id" && contained_exactly(value))
    }
}

impl Serialize for ContainedFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.fields())
    }
}

/// The SQL condition for a filter, or `TRUE` for the empty filter.
///
/// `_id` goes through the primary key (`id = $n`, canonical text, so `1` and `1.0`
/// stay different ids as in memory). Every other key with a scalar value goes into
/// one containment test, `doc @> $n::jsonb` with `$n` = `{"k": v, ...}`: one
/// parameter parsed and one pass over the document, instead of `doc ? k AND doc -> k
/// = v::jsonb` per key, which cost the lock's update ~3 µs more server time. A
/// key whose value is an array or object keeps that per-key form, because
/// containment would accept a superset of it.
pub(super) fn condition(
    filter: &Map<String, Value>,
    params: &mut Params,
) -> Result<String, StoreError> {
    let mut parts = Vec::new();
    if let Some(id) = filter.get("_id") {
        parts.push(format!("id = {}", params.push(id_key(id))));
    }
    let contained = ContainedFields(filter);
    if contained.fields().next().is_some() {
        let json = json_text(&contained, "filter")?;
        parts.push(format!("doc @> {}::jsonb", params.push(json)));
    }
    for (key, value) in filter
        .iter()
        .filter(|(k, v)| k.as_str() != "_id" && !contained_exactly(v))
    {
        // `doc -> k` is SQL NULL for a missing key, which equals nothing.
        let k = params.push(key.clone());
        let v = params.push(value.to_string());
        parts.push(format!("doc -> {k} = {v}::jsonb"));
    }
    Ok(if parts.is_empty() {
        "TRUE".to_string()
    } else {
        parts.join(" AND ")
    })
}

/// The `ORDER BY` (then `limit`) a listing of `filter`'s matches needs: none when
/// the filter names an `_id`, which at most one row has. Sorting that one row is
/// cheap, but skipping it spares the plan a sort node on every lock read.
pub(super) fn in_order(filter: &Map<String, Value>, limit: &str) -> String {
    if filter.contains_key("_id") {
        String::new()
    } else {
        format!(" ORDER BY seq{limit}")
    }
}

impl PostgresStore {
    /// The statement that selects the first match for an `UPDATE`/`DELETE` on one row.
    ///
    /// With `_id` at most one row can match, so `WHERE id = $n AND ...` is already
    /// "the first match". Without it, the subquery picks the first match by `seq`
    /// and locks it (`FOR UPDATE`): a concurrent writer that locked it first makes
    /// this wait, then the row is re-checked and skipped if it no longer matches, so
    /// the next match is taken instead. The outer `WHERE` repeats the filter so the
    /// row version actually changed is checked again too.
    pub(super) fn one_row_condition(
        &self,
        filter: &Map<String, Value>,
        params: &mut Params,
    ) -> Result<String, StoreError> {
        let cond = condition(filter, params)?;
        Ok(if filter.contains_key("_id") {
            cond
        } else {
            format!(
                "seq = (SELECT seq FROM {t} WHERE {cond} ORDER BY seq LIMIT 1 FOR UPDATE) AND {cond}",
                t = self.shared.names.table
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_bind_every_value_and_use_the_key_for_id() {
        let mut params = Params::default();
        let filter = json!({"_id": "a", "fence": 3, "owner": null});
        let sql = condition(filter.as_object().unwrap(), &mut params).unwrap();
        assert_eq!(sql, "id = $1 AND doc @> $2::jsonb");
        assert_eq!(params.0, vec![r#""a""#, r#"{"fence":3,"owner":null}"#]);

        let mut params = Params::default();
        assert_eq!(condition(&Map::new(), &mut params).unwrap(), "TRUE");
        assert!(params.0.is_empty());
    }

    #[test]
    fn conditions_compare_arrays_and_objects_whole_not_by_containment() {
        let mut params = Params::default();
        let filter = json!({"a": [1], "b": "x", "c": {"d": 2}});
        let sql = condition(filter.as_object().unwrap(), &mut params).unwrap();
        assert_eq!(
            sql,
            "doc @> $1::jsonb AND doc -> $2 = $3::jsonb AND doc -> $4 = $5::jsonb"
        );
        assert_eq!(
            params.0,
            vec![r#"{"b":"x"}"#, "a", "[1]", "c", r#"{"d":2}"#]
        );

        // Only `_id`: the primary key alone.
        let mut params = Params::default();
        let filter = json!({"_id": {"n": 1}});
        let sql = condition(filter.as_object().unwrap(), &mut params).unwrap();
        assert_eq!(sql, "id = $1");
        assert_eq!(params.0, vec![r#"{"n":1}"#]);
    }
}
