//! Tests of `scale-remove`.
