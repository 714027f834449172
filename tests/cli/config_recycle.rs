//! Tests of `config-recycle`.
