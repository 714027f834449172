//! Reading commits of a range with git2 (no `git` process).
