//! Tests of `ssm-command`.
