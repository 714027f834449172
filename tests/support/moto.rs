//! moto's server as the AWS of the tests (written in the next step).
