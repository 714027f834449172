//! Tests of `tag-release`.
