//! The changelog: trailer parsing, categories, rendering (pure, no I/O).
