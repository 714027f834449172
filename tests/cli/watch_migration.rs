//! Tests of `watch-migration`.
