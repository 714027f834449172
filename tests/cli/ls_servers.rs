//! Tests of `ls-servers`.
