//! Tests of `asg-size`.
