//! Tests of `tail-logs`.
