//! WiredTiger's text formats in `bsonflow_wiredtiger::format`: `config::Config::parse` (every
//! value read through each typed accessor, nested values parsed again), `config::parse_number`,
//! `metadata::FileInfo::parse` (allocation size, compressor, checkpoint list and its hex
//! cookies), and the turtle parsers `turtle::Turtle::parse` and `turtle::parse_backup`, whose
//! values are config strings in turn. The input is taken as UTF-8, invalid bytes replaced.
#![no_main]

use std::path::Path;

use bsonflow_wiredtiger::format::config::{parse_number, Config};
use bsonflow_wiredtiger::format::metadata::FileInfo;
use bsonflow_wiredtiger::format::turtle::{parse_backup, Turtle, METADATA_URI};
use libfuzzer_sys::fuzz_target;

fn visit(cfg: &Config, depth: usize) {
    for (key, value) in cfg.items() {
        let _ = (value.as_str(), value.as_int(), value.as_bool());
        if let Some(s) = value.as_str() {
            let _ = parse_number(s);
        }
        // The last item of a repeated key wins.
        assert!(cfg.get(key).is_some());
        let _ = (cfg.get_str(key), cfg.get_int(key));
        if depth < 32 {
            if let Ok(nested) = value.as_config() {
                visit(&nested, depth + 1);
            }
        }
    }
}

fn config(text: &str) {
    match Config::parse(text) {
        Ok(cfg) => visit(&cfg, 0),
        Err(e) => {
            assert!(e.offset <= text.len(), "error offset past the text");
            let _ = e.to_string();
        }
    }
    if let Ok(info) = FileInfo::parse("file:fuzz.wt", text, Path::new("WiredTiger.wt")) {
        assert!(info.allocation_size >= 512 && info.allocation_size.is_power_of_two());
        let _ = info.root();
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    config(&text);
    let path = Path::new("WiredTiger.turtle");
    if let Ok(turtle) = Turtle::parse(&text, path) {
        assert!(!turtle.metadata_config.is_empty());
        config(&turtle.metadata_config);
        let _ = FileInfo::parse(METADATA_URI, &turtle.metadata_config, path);
    }
    if let Ok(entries) = parse_backup(&text, Path::new("WiredTiger.backup")) {
        for (_, value) in entries.iter().take(64) {
            config(value);
        }
    }
});
