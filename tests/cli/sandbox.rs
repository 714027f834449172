//! Tests of `sandbox`.
