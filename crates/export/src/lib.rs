//! The Atlas-style export writer.
