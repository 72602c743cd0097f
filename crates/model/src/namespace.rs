//! `db.collection` names.

use std::fmt;

/// A MongoDB namespace: a database and a collection, as two separate strings.
///
/// The collection part may itself contain dots (`system.buckets.x`); a full name is split at
/// the **first** dot, as MongoDB does.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Namespace {
    /// The database name: everything before the first dot. Never empty from
    /// [`parse`](Namespace::parse); empty in the oplog pseudo-namespace of a
    /// `mongodump --oplog` archive, which the filter skips as [`SkipReason::Oplog`].
    ///
    /// [`SkipReason::Oplog`]: crate::SkipReason::Oplog
    pub db: String,
    /// The collection name: everything after the first dot, further dots included.
    pub collection: String,
}

/// A full name that cannot be split into database and collection.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a namespace of the form <db>.<collection>")]
pub struct NamespaceError(pub String);

impl Namespace {
    /// A namespace from its two parts, taken as they are (no check, no splitting).
    pub fn new(db: impl Into<String>, collection: impl Into<String>) -> Self {
        Namespace {
            db: db.into(),
            collection: collection.into(),
        }
    }

    /// Splits `db.collection` at the first dot; both parts must be non-empty.
    pub fn parse(full: &str) -> Result<Self, NamespaceError> {
        match full.split_once('.') {
            Some((db, coll)) if !db.is_empty() && !coll.is_empty() => Ok(Namespace::new(db, coll)),
            _ => Err(NamespaceError(full.to_string())),
        }
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.db, self.collection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_first_dot() {
        let ns = Namespace::parse("db.system.buckets.weather").unwrap();
        assert_eq!(ns.db, "db");
        assert_eq!(ns.collection, "system.buckets.weather");
        assert_eq!(ns.to_string(), "db.system.buckets.weather");
    }

    #[test]
    fn rejects_names_without_both_parts() {
        for bad in ["nodot", ".coll", "db.", ""] {
            assert!(Namespace::parse(bad).is_err(), "{bad}");
        }
    }
}
