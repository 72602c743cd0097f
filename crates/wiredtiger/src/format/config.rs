//! WiredTiger configuration strings: `key=value,key2=(nested=1,list=[a,b]),flag`.
//!
//! The grammar follows `src/config/config.c`: items separated by `,`; `=` or `:` between key
//! and value; a key alone means `true`; `(…)`, `[…]` and `{…}` nest and come back with their
//! brackets stripped (parse them again with [`Config::parse`]); `"…"` strings with backslash
//! escapes; numbers take size suffixes (`4KB` = 4096, `64MB`, `10m`). Whitespace between
//! tokens is ignored. Values keep their raw text; typed accessors interpret them.

use std::fmt;

/// One value of a configuration item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A key with no `=value`: means `true`.
    Flag,
    /// A quoted string, unescaped.
    Quoted(String),
    /// A bare token (identifier, number, `true`/`false`).
    Bare(String),
    /// The text inside a bracketed value, without the brackets.
    Nested(String),
}

impl Value {
    /// The text of a string-like value (`Quoted`, `Bare` or `Nested`); `None` for a flag.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Flag => None,
            Value::Quoted(s) | Value::Bare(s) | Value::Nested(s) => Some(s),
        }
    }

    /// A number with WiredTiger's size suffixes (`4KB` = 4096).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Bare(s) | Value::Quoted(s) => parse_number(s),
            _ => None,
        }
    }

    /// `true`/`false`, a flag, or a number (non-zero is true).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Flag => Some(true),
            Value::Bare(s) if s == "true" => Some(true),
            Value::Bare(s) if s == "false" => Some(false),
            other => other.as_int().map(|n| n != 0),
        }
    }

    /// The nested configuration of a bracketed value.
    pub fn as_config(&self) -> Result<Config, ConfigError> {
        match self {
            Value::Nested(s) => Config::parse(s),
            Value::Flag => Ok(Config::default()),
            Value::Quoted(s) | Value::Bare(s) if s.is_empty() => Ok(Config::default()),
            _ => Err(ConfigError {
                offset: 0,
                detail: "expected a bracketed value".into(),
            }),
        }
    }
}

/// A configuration string that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Byte offset in the (nested) string being parsed.
    pub offset: usize,
    /// What is wrong there, e.g. `unterminated string` or ``unbalanced `)` ``.
    pub detail: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.detail)
    }
}

impl std::error::Error for ConfigError {}

/// A parsed configuration string: the items in their order. Later duplicates win on lookup,
/// as in WiredTiger.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    items: Vec<(String, Value)>,
}

impl Config {
    /// Parses a configuration string: a whole metadata value, or the text of a
    /// [`Value::Nested`]. Fails at the first item that does not parse (unterminated string,
    /// unbalanced bracket, stray character), naming its byte offset.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        Parser {
            s: text.as_bytes(),
            text,
            pos: 0,
        }
        .items()
    }

    /// Every item, in order.
    pub fn items(&self) -> &[(String, Value)] {
        &self.items
    }

    /// The value of `key` (the last one when repeated).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.items
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The text of `key`'s value (the last one when repeated): see [`Value::as_str`]; `None`
    /// when the key is absent or has no `=value`.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// `key`'s value as a number, size suffixes applied (see [`Value::as_int`]); `None` when
    /// the key is absent or its value is not a number.
    pub fn get_int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Value::as_int)
    }

    /// The nested configuration under `key`: `None` when absent.
    pub fn get_config(&self, key: &str) -> Result<Option<Config>, ConfigError> {
        self.get(key).map(Value::as_config).transpose()
    }
}

/// `strtoll` followed by suffix letters applied one after another.
pub fn parse_number(s: &str) -> Option<i64> {
    let bytes = s.as_bytes();
    let mut end = usize::from(matches!(bytes.first(), Some(b'-' | b'+')));
    let digits_start = end;
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    if end == digits_start {
        return None;
    }
    let mut n: i64 = s[..end].parse().ok()?;
    for &c in &bytes[end..] {
        let shift = match c {
            b'b' | b'B' => 0,
            b'k' | b'K' => 10,
            b'm' | b'M' => 20,
            b'g' | b'G' => 30,
            b't' | b'T' => 40,
            b'p' | b'P' => 50,
            _ => return None,
        };
        n = n.checked_mul(1 << shift)?;
    }
    Some(n)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, detail: impl Into<String>) -> ConfigError {
        ConfigError {
            offset: self.pos,
            detail: detail.into(),
        }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\r' | b'\n') {
            self.pos += 1;
        }
    }

    fn items(mut self) -> Result<Config, ConfigError> {
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            while self.pos < self.s.len() && self.s[self.pos] == b',' {
                self.pos += 1;
                self.skip_ws();
            }
            if self.pos >= self.s.len() {
                break;
            }
            let key = match self.s[self.pos] {
                b'"' => self.quoted()?,
                b'(' | b'[' | b'{' => self.nested()?,
                _ => self.bare()?,
            };
            self.skip_ws();
            let value = if self.pos < self.s.len() && matches!(self.s[self.pos], b'=' | b':') {
                self.pos += 1;
                self.skip_ws();
                match self.s.get(self.pos) {
                    None | Some(b',') => Value::Bare(String::new()),
                    Some(b'"') => Value::Quoted(self.quoted()?),
                    Some(b'(' | b'[' | b'{') => Value::Nested(self.nested()?),
                    Some(_) => Value::Bare(self.bare()?),
                }
            } else {
                Value::Flag
            };
            items.push((key, value));
            self.skip_ws();
            match self.s.get(self.pos) {
                None | Some(b',') => {}
                Some(&c) => {
                    return Err(self.err(format!("unexpected `{}` after an item", c as char)))
                }
            }
        }
        Ok(Config { items })
    }

    /// A bare token: runs until whitespace, `,`, `=`, `:` or a bracket.
    fn bare(&mut self) -> Result<String, ConfigError> {
        let start = self.pos;
        while self.pos < self.s.len()
            && !matches!(
                self.s[self.pos],
                b' ' | b'\t'
                    | b'\r'
                    | b'\n'
                    | b','
                    | b'='
                    | b':'
                    | b'('
                    | b')'
                    | b'['
                    | b']'
                    | b'{'
                    | b'}'
                    | b'"'
            )
        {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err(format!(
                "unexpected `{}`",
                self.s.get(self.pos).map_or('?', |&c| c as char)
            )));
        }
        Ok(self.text[start..self.pos].to_string())
    }

    /// A quoted string with backslash escapes; the quotes are removed.
    fn quoted(&mut self) -> Result<String, ConfigError> {
        let start = self.pos;
        self.pos += 1; // opening quote
        let mut out = Vec::new();
        while self.pos < self.s.len() {
            match self.s[self.pos] {
                b'"' => {
                    self.pos += 1;
                    return String::from_utf8(out).map_err(|_| self.err("string is not UTF-8"));
                }
                b'\\' if self.pos + 1 < self.s.len() => {
                    out.push(self.s[self.pos + 1]);
                    self.pos += 2;
                }
                c => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        self.pos = start;
        Err(self.err("unterminated string"))
    }

    /// A bracketed value; returns the text between the outer brackets.
    fn nested(&mut self) -> Result<String, ConfigError> {
        let start = self.pos;
        let mut stack = Vec::new();
        while self.pos < self.s.len() {
            match self.s[self.pos] {
                c @ (b'(' | b'[' | b'{') => stack.push(c),
                c @ (b')' | b']' | b'}') => {
                    let open = stack.pop();
                    let want = match c {
                        b')' => b'(',
                        b']' => b'[',
                        _ => b'{',
                    };
                    if open != Some(want) {
                        return Err(self.err(format!("unbalanced `{}`", c as char)));
                    }
                    if stack.is_empty() {
                        self.pos += 1;
                        return Ok(self.text[start + 1..self.pos - 1].to_string());
                    }
                }
                b'"' => {
                    self.quoted()?;
                    continue;
                }
                _ => {}
            }
            self.pos += 1;
        }
        self.pos = start;
        Err(self.err("unclosed bracket"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_with_suffixes() {
        assert_eq!(parse_number("4KB"), Some(4096));
        assert_eq!(parse_number("64MB"), Some(64 << 20));
        assert_eq!(parse_number("10m"), Some(10 << 20));
        assert_eq!(parse_number("1g"), Some(1 << 30));
        assert_eq!(parse_number("-1"), Some(-1));
        assert_eq!(parse_number("-11"), Some(-11));
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("snappy"), None);
        assert_eq!(parse_number("4x"), None);
        assert_eq!(parse_number(""), None);
    }

    #[test]
    fn top_level_items() {
        let c = Config::parse(
            "allocation_size=4KB,block_compressor=,checksum=on,key_format=q,value_format=u,\
             leaf_value_max=64MB,log=(enabled=false),flag,prefix_compression=false",
        )
        .unwrap();
        assert_eq!(c.get_int("allocation_size"), Some(4096));
        assert_eq!(c.get_str("block_compressor"), Some(""));
        assert_eq!(c.get_str("key_format"), Some("q"));
        assert_eq!(c.get_int("leaf_value_max"), Some(64 << 20));
        assert_eq!(c.get("flag"), Some(&Value::Flag));
        assert_eq!(c.get("prefix_compression").unwrap().as_bool(), Some(false));
        let log = c.get_config("log").unwrap().unwrap();
        assert_eq!(log.get("enabled").unwrap().as_bool(), Some(false));
        assert!(c.get("absent").is_none());
    }

    #[test]
    fn nested_brackets_and_checkpoints() {
        let text = r#"app_metadata=(formatVersion=1),assert=(commit_timestamp=none,read_timestamp=none),checkpoint=(WiredTigerCheckpoint.9=(addr="018481e484f2c9e48581e45dfbb3a28d81e49f7bd11b808080e2cfc0e21fc0",order=9,time=1726506443,size=20480,newest_stop_ts=-1,newest_stop_txn=-11,write_gen=18),WiredTigerCheckpoint.10=(addr="",order=10)),checkpoint_lsn=(1,615680),verbose=[],source="file:collection-7-123.wt",type=file"#;
        let c = Config::parse(text).unwrap();
        let ckpts = c.get_config("checkpoint").unwrap().unwrap();
        assert_eq!(ckpts.items().len(), 2);
        let (name, v) = &ckpts.items()[0];
        assert_eq!(name, "WiredTigerCheckpoint.9");
        let ck = v.as_config().unwrap();
        assert_eq!(
            ck.get_str("addr"),
            Some("018481e484f2c9e48581e45dfbb3a28d81e49f7bd11b808080e2cfc0e21fc0")
        );
        assert_eq!(ck.get_int("order"), Some(9));
        assert_eq!(ck.get_int("newest_stop_ts"), Some(-1));
        let ck10 = ckpts
            .get_config("WiredTigerCheckpoint.10")
            .unwrap()
            .unwrap();
        assert_eq!(ck10.get_str("addr"), Some(""));
        let lsn = c.get_config("checkpoint_lsn").unwrap().unwrap();
        let keys: Vec<_> = lsn.items().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["1", "615680"]);
        assert_eq!(c.get_str("verbose"), Some(""));
        assert_eq!(c.get_str("source"), Some("file:collection-7-123.wt"));
        assert_eq!(c.get_str("type"), Some("file"));
    }

    #[test]
    fn json_inside_braces_and_escapes() {
        let text = r#"app_metadata=(formatVersion=8,infoObj={ "v" : 2, "key" : { "a" : 1, "b)" : -1 }, "name" : "a_1_b_-1" }),key_format=u,s="a\"b,c""#;
        let c = Config::parse(text).unwrap();
        let app = c.get_config("app_metadata").unwrap().unwrap();
        assert_eq!(app.get_int("formatVersion"), Some(8));
        let info = app.get_str("infoObj").unwrap();
        assert!(info.starts_with(r#" "v" : 2"#) && info.ends_with(r#""a_1_b_-1" "#));
        let parsed = app.get_config("infoObj").unwrap().unwrap();
        assert_eq!(parsed.get_int("v"), Some(2));
        assert_eq!(parsed.get_str("name"), Some("a_1_b_-1"));
        assert_eq!(c.get_str("key_format"), Some("u"));
        assert_eq!(c.get_str("s"), Some("a\"b,c"));
    }

    #[test]
    fn whitespace_and_colons() {
        let c = Config::parse(" a : 1 ,\n b = ( c = x ) , d ").unwrap();
        assert_eq!(c.get_int("a"), Some(1));
        assert_eq!(c.get_config("b").unwrap().unwrap().get_str("c"), Some("x"));
        assert_eq!(c.get("d"), Some(&Value::Flag));
    }

    #[test]
    fn errors() {
        assert!(Config::parse("a=(b=1").is_err());
        assert!(Config::parse("a=(b=1]").is_err());
        assert!(Config::parse("a=\"open").is_err());
        assert!(Config::parse("a=1 b=2").is_err());
        assert!(Config::parse("").unwrap().items().is_empty());
    }
}
