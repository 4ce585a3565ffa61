//! rel: a declarative infrastructure compiler.
//!
//! The pipeline, in module order (dependencies point backwards only):
//! `source` → `syntax` → `resolve` → `check`; `format` works on syntax
//! alone; `cli` is the only module that does process IO.

pub mod diagnostic;
pub mod format;
pub mod source;
pub mod syntax;
