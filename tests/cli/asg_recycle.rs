//! Tests of `asg-recycle`.
