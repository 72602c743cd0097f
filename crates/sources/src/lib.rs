//! bsonflow's input readers: everything that turns a backup file or folder into namespaces
//! of raw BSON documents pushed into a [`DocumentSink`](bsonflow_model::DocumentSink).
//!
//! One module per container format; they compose through `std::io::Read`, so `.tar.zst`,
//! `.ar.gz` and `_qp.xb` are stacks of layers, not special cases.
//!
//! (The map of types is filled in as the modules land.)
