//! Tests of rel that replay recorded AWS responses to the real SDK client
//! (`tests/`). They live in a package of their own because the SDK's test
//! utilities turn on serde_json's `preserve_order`, which would change how
//! rel's own builds and tests order JSON.
