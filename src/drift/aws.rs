//! aws drift.
