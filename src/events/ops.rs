//! Store operations by kind, as the run summary counts them. The stores count into
//! these (see `store::ops`); the names are the store API's.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One kind of store operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// `insert_one`
    InsertOne,
    /// `insert_many`
    InsertMany,
    /// `find_one`
    FindOne,
    /// `find_many`
    FindMany,
    /// `count`
    Count,
    /// `update_one`
    UpdateOne,
    /// `update_many`
    UpdateMany,
    /// `delete_one`
    DeleteOne,
    /// `delete_many`
    DeleteMany,
}

impl OpKind {
    /// Every kind, in a stable order.
    pub const ALL: [OpKind; 9] = [
        OpKind::InsertOne,
        OpKind::InsertMany,
        OpKind::FindOne,
        OpKind::FindMany,
        OpKind::Count,
        OpKind::UpdateOne,
        OpKind::UpdateMany,
        OpKind::DeleteOne,
        OpKind::DeleteMany,
    ];

    /// The operation's name as the store API spells it.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::InsertOne => "insert_one",
            OpKind::InsertMany => "insert_many",
            OpKind::FindOne => "find_one",
            OpKind::FindMany => "find_many",
            OpKind::Count => "count",
            OpKind::UpdateOne => "update_one",
            OpKind::UpdateMany => "update_many",
            OpKind::DeleteOne => "delete_one",
            OpKind::DeleteMany => "delete_many",
        }
    }
}

/// A snapshot of operation counts by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpCounts(pub BTreeMap<OpKind, u64>);

impl OpCounts {
    /// Count for one kind (0 when never issued).
    pub fn get(&self, kind: OpKind) -> u64 {
        self.0.get(&kind).copied().unwrap_or(0)
    }

    /// Sum over every kind.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

impl fmt::Display for OpCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = OpKind::ALL
            .iter()
            .filter(|k| self.get(**k) > 0)
            .map(|k| format!("{} {}", k.name(), self.get(*k)))
            .collect();
        if parts.is_empty() {
            write!(f, "none")
        } else {
            write!(f, "{} (total {})", parts.join(", "), self.total())
        }
    }
}
