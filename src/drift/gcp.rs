//! gcp drift.
