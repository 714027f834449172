//! RC names and numbers, staging deploy.json.
