//! Lists the collections of a mongod data directory and reads each one, printing counts and
//! throughput: `cargo run --release -p bsonflow-wiredtiger --example wt_list -- DBPATH [NS]`.

use std::time::Instant;

use bsonflow_wiredtiger::DataDir;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: wt_list DBPATH [db.collection]");
        std::process::exit(2);
    };
    let only = args.next();
    let dir = match DataDir::open(std::path::Path::new(&path)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if let Ok(Some(rs)) = dir.replica_set_name() {
        println!("replica set: {rs}");
    }
    for entry in dir.collections() {
        if only.as_deref().is_some_and(|ns| ns != entry.ns.to_string()) {
            continue;
        }
        let start = Instant::now();
        match dir.read_collection(entry, |_, _| {}) {
            Ok(s) => {
                let secs = start.elapsed().as_secs_f64();
                println!(
                    "{:<40} {:>9} docs {:>7} deleted {:>6} leaves {:>4} internal {:>5} overflow {:>9.1} MB {:>7.3} s {:>8.1} MB/s",
                    entry.ns.to_string(),
                    s.documents,
                    s.deleted,
                    s.leaf_pages,
                    s.internal_pages,
                    s.overflow_pages,
                    s.document_bytes as f64 / 1e6,
                    secs,
                    s.document_bytes as f64 / 1e6 / secs.max(1e-9)
                );
            }
            Err(e) => println!("{:<40} ERROR {e}", entry.ns.to_string()),
        }
    }
}
