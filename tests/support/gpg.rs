//! A real GnuPG home in a temporary directory, with a throw-away signing key (no passphrase).
//! The gpg-agent GnuPG starts for it is killed when the fixture drops.

use std::path::Path;
use std::process::{Command, Output};

pub struct Gpg {
    pub home: tempfile::TempDir,
    /// Fingerprints of the secret keys generated so far, in order.
    pub keys: Vec<String>,
}

impl Gpg {
    /// An empty GnuPG home: no keys at all.
    pub fn empty() -> Self {
        let home = tempfile::Builder::new()
            .prefix("gpg")
            .tempdir()
            .expect("temp dir");
        let g = Gpg {
            home,
            keys: Vec::new(),
        };
        // Fail early, with the fix, when GnuPG is missing.
        g.gpg(&["--version"]);
        g
    }

    /// A home with one key for `Release Tester <tester@example.gov>`.
    pub fn with_key() -> Self {
        let mut g = Self::empty();
        g.add_key("Release Tester <tester@example.gov>");
        g
    }

    /// Generates an ed25519 signing key without a passphrase; returns its fingerprint.
    pub fn add_key(&mut self, uid: &str) -> String {
        self.gpg(&[
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            uid,
            "ed25519",
            "sign",
            "never",
        ]);
        let out = self.gpg(&["--batch", "--with-colons", "--list-secret-keys", uid]);
        let fpr = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .map(|l| l.trim_matches(':').to_string())
            .expect("gpg lists the new key's fingerprint");
        self.keys.push(fpr.clone());
        fpr
    }

    pub fn path(&self) -> &Path {
        self.home.path()
    }

    /// Runs gpg with this home; panics with gpg's stderr on failure.
    pub fn gpg(&self, args: &[&str]) -> Output {
        let out = Command::new("gpg")
            .args(args)
            .env("GNUPGHOME", self.path())
            .output()
            .unwrap_or_else(|e| {
                panic!("the tests need GnuPG's `gpg` ({e}): apt-get install gnupg")
            });
        assert!(
            out.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        // The agent outlives gpg and gpgme; stop the one this home started.
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.path())
            .output();
    }
}
