//! kubernetes drift.
