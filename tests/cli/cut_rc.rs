//! Tests of `cut-rc`.
