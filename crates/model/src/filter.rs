//! Which namespaces are exported, and why the others are not.

use std::fmt;

use crate::{CollectionMetadata, Namespace};

/// Why a namespace is not exported. Every skip is reported with one of these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// `admin`, `local` or `config`.
    SystemDatabase,
    /// A collection named `system.*` other than time-series buckets (`system.js` holds stored
    /// functions, `system.views` view definitions, `system.profile` profiler output …).
    SystemCollection,
    /// A view: it has no documents of its own.
    View,
    /// A time-series collection, or its `system.buckets.*` data collection.
    TimeSeries,
    /// A `/` in the database or collection name.
    SlashInName,
    /// A `$` in the name: index namespaces of old servers.
    DollarInName,
    /// The oplog pseudo-namespace of a `mongodump --oplog` archive (empty database name).
    Oplog,
    /// Matched an exclude pattern (the binary's `--exclude`).
    Excluded(String),
    /// Include patterns were given (the binary's `--include`) and none matched.
    NotIncluded,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::SystemDatabase => f.write_str("system database (admin, local, config)"),
            SkipReason::SystemCollection => f.write_str("system collection (system.*)"),
            SkipReason::View => f.write_str("view (no documents of its own)"),
            SkipReason::TimeSeries => f.write_str("time-series collection or its buckets"),
            SkipReason::SlashInName => f.write_str("name contains '/'"),
            SkipReason::DollarInName => f.write_str("name contains '$'"),
            SkipReason::Oplog => f.write_str("oplog of a mongodump --oplog archive"),
            SkipReason::Excluded(p) => write!(f, "excluded by the pattern {p}"),
            SkipReason::NotIncluded => f.write_str("matched no include pattern"),
        }
    }
}

/// A `--include`/`--exclude` pattern: `db.coll` where `*` matches any run of characters
/// (dots included) and `\` makes the next character literal, as mongodump's
/// `--nsInclude`/`--nsExclude`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespacePattern {
    text: String,
    /// Literal pieces between the stars: one piece means no star.
    pieces: Vec<String>,
}

/// A pattern that cannot match a namespace.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("namespace pattern `{pattern}`: {why}")]
pub struct PatternError {
    /// The pattern as the user gave it.
    pub pattern: String,
    /// What is wrong with it, worded to follow the pattern in the message (`is empty`,
    /// `ends with a lone backslash`, `needs the form <db>.<collection> …`).
    pub why: &'static str,
}

impl NamespacePattern {
    /// Parses `text` as a pattern. Fails when it is empty, ends with an unescaped `\`, or has
    /// neither a literal `.` nor a `*` (so it could never match `db.collection`).
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let err = |why| PatternError {
            pattern: text.to_string(),
            why,
        };
        if text.is_empty() {
            return Err(err("is empty"));
        }
        let mut pieces = vec![String::new()];
        let mut chars = text.chars();
        let mut literal_dot = false;
        while let Some(c) = chars.next() {
            match c {
                '*' => pieces.push(String::new()),
                '\\' => match chars.next() {
                    Some(next) => pieces.last_mut().unwrap().push(next),
                    None => return Err(err("ends with a lone backslash")),
                },
                c => {
                    literal_dot |= c == '.';
                    pieces.last_mut().unwrap().push(c)
                }
            }
        }
        if !literal_dot && !text.contains('*') {
            return Err(err(
                "needs the form <db>.<collection> (use * as a wildcard)",
            ));
        }
        Ok(NamespacePattern {
            text: text.to_string(),
            pieces,
        })
    }

    /// The pattern as it was parsed, escapes included (what [`SkipReason::Excluded`] holds).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the whole of `ns`, written `db.collection`, matches the pattern.
    pub fn matches(&self, ns: &Namespace) -> bool {
        glob_match(&self.pieces, &ns.to_string())
    }
}

/// Matches `text` against literal `pieces` that were separated by stars.
fn glob_match(pieces: &[String], text: &str) -> bool {
    if pieces.len() == 1 {
        return pieces[0] == text;
    }
    let first = &pieces[0];
    let last = &pieces[pieces.len() - 1];
    if text.len() < first.len() + last.len()
        || !text.starts_with(first.as_str())
        || !text.ends_with(last.as_str())
    {
        return false;
    }
    // Greedy left-to-right search of the middle pieces within the part between the ends.
    let mut rest = &text[first.len()..text.len() - last.len()];
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(piece.as_str()) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// The rules that decide which namespaces are exported.
#[derive(Clone, Debug, Default)]
pub struct NamespaceFilter {
    include: Vec<NamespacePattern>,
    exclude: Vec<NamespacePattern>,
}

impl NamespaceFilter {
    /// The built-in rules only.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in rules plus the user's patterns: a namespace is exported when it matches no
    /// `exclude` pattern and, if `include` is not empty, at least one `include` pattern.
    /// The built-in rules are checked first: no pattern brings back a namespace they skip.
    pub fn with_patterns(include: Vec<NamespacePattern>, exclude: Vec<NamespacePattern>) -> Self {
        NamespaceFilter { include, exclude }
    }

    /// `Ok(())` when `ns` is exported, else the reason it is skipped. `meta` tells views and
    /// time-series collections apart when the input knows it.
    pub fn check(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SkipReason> {
        Self::builtin(ns, meta)?;
        if let Some(p) = self.exclude.iter().find(|p| p.matches(ns)) {
            return Err(SkipReason::Excluded(p.as_str().to_string()));
        }
        if !self.include.is_empty() && !self.include.iter().any(|p| p.matches(ns)) {
            return Err(SkipReason::NotIncluded);
        }
        Ok(())
    }

    /// The rules that mirror what the cloud's own download leaves out; user patterns cannot
    /// bring these namespaces back.
    fn builtin(ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SkipReason> {
        if ns.db.is_empty() {
            return Err(SkipReason::Oplog);
        }
        if matches!(ns.db.as_str(), "admin" | "local" | "config") {
            return Err(SkipReason::SystemDatabase);
        }
        if ns.db.contains('/') || ns.collection.contains('/') {
            return Err(SkipReason::SlashInName);
        }
        if ns.db.contains('$') || ns.collection.contains('$') {
            return Err(SkipReason::DollarInName);
        }
        if ns.collection.starts_with("system.buckets.") || meta.is_timeseries() {
            return Err(SkipReason::TimeSeries);
        }
        if ns.collection.starts_with("system.") {
            return Err(SkipReason::SystemCollection);
        }
        if meta.is_view() {
            return Err(SkipReason::View);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> Namespace {
        Namespace::parse(s).unwrap()
    }

    fn check(filter: &NamespaceFilter, s: &str) -> Result<(), SkipReason> {
        filter.check(&ns(s), &CollectionMetadata::default())
    }

    #[test]
    fn builtin_rules() {
        let f = NamespaceFilter::new();
        assert_eq!(check(&f, "shop.orders"), Ok(()));
        assert_eq!(check(&f, "admin.users"), Err(SkipReason::SystemDatabase));
        assert_eq!(check(&f, "local.oplog.rs"), Err(SkipReason::SystemDatabase));
        assert_eq!(check(&f, "config.chunks"), Err(SkipReason::SystemDatabase));
        assert_eq!(
            check(&f, "shop.system.js"),
            Err(SkipReason::SystemCollection)
        );
        assert_eq!(
            check(&f, "shop.system.views"),
            Err(SkipReason::SystemCollection)
        );
        assert_eq!(
            check(&f, "shop.system.buckets.w"),
            Err(SkipReason::TimeSeries)
        );
        assert_eq!(check(&f, "shop.a/b"), Err(SkipReason::SlashInName));
        assert_eq!(check(&f, "sh/op.ab"), Err(SkipReason::SlashInName));
        assert_eq!(check(&f, "shop.a.$_id_"), Err(SkipReason::DollarInName));
        assert_eq!(
            f.check(&Namespace::new("", "oplog"), &CollectionMetadata::default()),
            Err(SkipReason::Oplog)
        );
        // A collection merely starting with "system" is ordinary.
        assert_eq!(check(&f, "shop.systematic"), Ok(()));
    }

    #[test]
    fn views_and_timeseries_by_metadata() {
        let f = NamespaceFilter::new();
        let view = CollectionMetadata::from_mongodump_json(r#"{"type":"view"}"#).unwrap();
        let ts = CollectionMetadata::from_mongodump_json(
            r#"{"options":{"timeseries":{"timeField":"t"}}}"#,
        )
        .unwrap();
        assert_eq!(f.check(&ns("a.v"), &view), Err(SkipReason::View));
        assert_eq!(f.check(&ns("a.t"), &ts), Err(SkipReason::TimeSeries));
    }

    #[test]
    fn patterns() {
        let p = |s| NamespacePattern::parse(s).unwrap();
        assert!(p("shop.*").matches(&ns("shop.orders")));
        assert!(p("shop.*").matches(&ns("shop.a.b")));
        assert!(!p("shop.*").matches(&ns("shopping.orders")));
        assert!(p("*.orders").matches(&ns("shop.orders")));
        assert!(!p("*.orders").matches(&ns("shop.orders2")));
        assert!(p("s*p.o*s").matches(&ns("shop.orders")));
        assert!(!p("s*p.o*x").matches(&ns("shop.orders")));
        assert!(p("shop.orders").matches(&ns("shop.orders")));
        assert!(!p("shop.orders").matches(&ns("shop.orders2")));
        assert!(p(r"shop.a\*").matches(&ns("shop.a*")));
        assert!(!p(r"shop.a\*").matches(&ns("shop.ab")));
        assert!(p("*").matches(&ns("x.y")));
        assert!(!p("a*a.x").matches(&ns("a.x")));
        assert!(p("a*a.x").matches(&ns("aa.x")));
        assert!(NamespacePattern::parse("nodot").is_err());
        assert!(NamespacePattern::parse("").is_err());
    }

    #[test]
    fn include_and_exclude() {
        let p = |s| NamespacePattern::parse(s).unwrap();
        let f = NamespaceFilter::with_patterns(vec![p("shop.*")], vec![p("shop.tmp*")]);
        assert_eq!(check(&f, "shop.orders"), Ok(()));
        assert_eq!(
            check(&f, "shop.tmp1"),
            Err(SkipReason::Excluded("shop.tmp*".into()))
        );
        assert_eq!(check(&f, "blog.posts"), Err(SkipReason::NotIncluded));
        // Built-in rules win over --include.
        let all = NamespaceFilter::with_patterns(vec![p("*")], vec![]);
        assert_eq!(check(&all, "admin.users"), Err(SkipReason::SystemDatabase));
    }
}
