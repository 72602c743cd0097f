"""Ray driver for bsonflow."""
