//! Tests of `rollback`.
