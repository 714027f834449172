//! Tests of `changelog`.
