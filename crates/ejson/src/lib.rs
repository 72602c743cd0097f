//! Extended JSON v2 from raw BSON bytes.
