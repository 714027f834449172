//! Signed annotated tags through gpgme, written exactly as `git tag -s` writes them.
//!
//! git2 has no "create tag from buffer", so the tag object is built by hand: the payload
//! (`object`, `type`, `tag`, `tagger` lines, a blank line, the message), then the armored
//! detached signature of that payload appended, written with `odb().write(ObjectType::Tag, ..)`.
//! `git tag -v` verifies such tags.

use anyhow::{Context as _, Result};
use git2::{ObjectType, Oid, Signature};
use gpgme::{Context as Gpg, Protocol};

use crate::error::{failed, preflight};
use crate::git::repo::Repo;

const SIG_START: &str = "-----BEGIN PGP SIGNATURE-----";

/// The secret key that will sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub fingerprint: String,
    /// The key's first user id, e.g. `Release Tester <tester@example.gov>`.
    pub user_id: String,
    /// Every fingerprint of the key (primary and subkeys): a signature by any of them is ours.
    pub fingerprints: Vec<String>,
}

impl SigningKey {
    pub fn describe(&self) -> String {
        format!("{} ({})", self.user_id, self.fingerprint)
    }
}

fn context() -> Result<Gpg> {
    Gpg::from_protocol(Protocol::OpenPgp).map_err(|e| {
        preflight(
            format!("GnuPG is not usable: {e}"),
            "install it (apt-get install gnupg), or tag with --no-sign --yes",
        )
    })
}

/// The key `user.signingkey` names, else the first usable secret key GnuPG lists. Missing or
/// unusable keys are preflight failures, found before anything is created.
pub fn find_signing_key(configured: Option<&str>) -> Result<SigningKey> {
    let mut ctx = context()?;
    let usable = |k: &gpgme::Key| {
        k.has_secret()
            && k.can_sign()
            && !(k.is_revoked() || k.is_expired() || k.is_disabled() || k.is_invalid())
    };
    let (keys, listed): (Vec<gpgme::Key>, usize) = match configured {
        Some(pattern) => {
            // `KEYID!` means "exactly this subkey" to gpg; the search wants the bare id.
            let bare = pattern.trim_end_matches('!');
            let found: Vec<gpgme::Key> = ctx
                .find_secret_keys([bare])
                .map(|ks| ks.flatten().collect())
                .unwrap_or_default();
            let n = found.len();
            (found, n)
        }
        None => {
            let found: Vec<gpgme::Key> = ctx
                .secret_keys()
                .map(|ks| ks.flatten().collect())
                .unwrap_or_default();
            let n = found.len();
            (found, n)
        }
    };
    if let Some(k) = keys.iter().find(|k| usable(k)) {
        return Ok(SigningKey {
            fingerprint: k.fingerprint().unwrap_or_default().to_string(),
            user_id: k
                .user_ids()
                .next()
                .and_then(|u| u.id().ok().map(str::to_string))
                .unwrap_or_default(),
            fingerprints: k
                .subkeys()
                .filter_map(|s| s.fingerprint().ok().map(str::to_string))
                .collect(),
        });
    }
    let home = std::env::var("GNUPGHOME").unwrap_or_else(|_| "~/.gnupg".to_string());
    Err(match (configured, listed) {
        (Some(p), 0) => preflight(
            format!("no secret key for user.signingkey `{p}` in GnuPG ({home})"),
            "import the key (gpg --import), or fix user.signingkey (git config user.signingkey KEYID)",
        ),
        (Some(p), _) => preflight(
            format!("the secret key for user.signingkey `{p}` cannot sign (expired, revoked or disabled)"),
            "renew it (gpg --quick-set-expire), or point user.signingkey at another key",
        ),
        (None, 0) => preflight(
            format!("no secret key to sign the tag with: GnuPG ({home}) has none"),
            "create one (gpg --quick-gen-key \"Your Name <you@example.gov>\"), add it to GitHub, or set user.signingkey",
        ),
        (None, _) => preflight(
            format!("no usable secret key in GnuPG ({home}): every one is expired, revoked or cannot sign"),
            "renew one (gpg --quick-set-expire), or set user.signingkey",
        ),
    })
}

/// An armored detached signature of `payload`.
pub fn sign(key: &SigningKey, payload: &[u8]) -> Result<String> {
    let mut ctx = context()?;
    ctx.set_armor(true);
    let k = ctx
        .get_secret_key(key.fingerprint.as_str())
        .with_context(|| format!("finding secret key {}", key.fingerprint))?;
    ctx.add_signer(&k).context("selecting the signing key")?;
    let mut sig = Vec::new();
    ctx.sign_detached(payload, &mut sig).map_err(|e| {
        failed(
            format!("GnuPG could not sign with {}: {e}", key.describe()),
            "check the key works (echo test | gpg --clearsign -u KEY); with a passphrase, run on a terminal so pinentry can ask",
        )
    })?;
    String::from_utf8(sig).context("GnuPG returned a signature that is not text")
}

/// Verifies a detached signature of `payload`; returns the fingerprint that signed. A bad or
/// missing signature is an error.
pub fn verify(payload: &[u8], signature: &[u8]) -> Result<String> {
    let mut ctx = context()?;
    let result = ctx
        .verify_detached(signature, payload)
        .context("GnuPG could not check the signature")?;
    let sig = result
        .signatures()
        .next()
        .ok_or_else(|| failed("the tag carries no signature", "re-run without --no-sign"))?;
    sig.status().map_err(|e| {
        failed(
            format!("the tag's signature does not verify: {e}"),
            "check the key with `gpg --list-secret-keys`; the local tag was removed",
        )
    })?;
    Ok(sig.fingerprint().unwrap_or_default().to_string())
}

/// The tag object's text before its signature, byte for byte as git builds it.
pub fn tag_payload(
    target: Oid,
    kind: ObjectType,
    name: &str,
    tagger: &Signature<'_>,
    message: &str,
) -> String {
    let when = tagger.when();
    let offset = when.offset_minutes();
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.unsigned_abs();
    format!(
        "object {target}\ntype {}\ntag {name}\ntagger {} <{}> {} {sign}{:02}{:02}\n\n{}\n",
        kind.str(),
        String::from_utf8_lossy(tagger.name_bytes()),
        String::from_utf8_lossy(tagger.email_bytes()),
        when.seconds(),
        offset / 60,
        offset % 60,
        message.trim_end(),
    )
}

/// Writes a tag object (payload plus optional armored signature); returns its id. The ref is
/// created by the caller.
pub fn write_tag_object(repo: &Repo, payload: &str, signature: Option<&str>) -> Result<Oid> {
    let mut body = payload.to_string();
    if let Some(sig) = signature {
        body.push_str(sig);
        if !sig.ends_with('\n') {
            body.push('\n');
        }
    }
    let odb = repo.git.odb().context("opening the object database")?;
    odb.write(ObjectType::Tag, body.as_bytes())
        .context("writing the tag object")
}

/// Splits a stored tag object into its payload and signature (if it has one).
pub fn split_signed(raw: &[u8]) -> (&[u8], Option<&[u8]>) {
    let text = raw;
    let needle = SIG_START.as_bytes();
    // The signature starts at a line beginning; search from the end as git does.
    let mut at = None;
    let mut i = text.len();
    while i >= needle.len() {
        let start = i - needle.len();
        if &text[start..i] == needle && (start == 0 || text[start - 1] == b'\n') {
            at = Some(start);
            break;
        }
        i -= 1;
    }
    match at {
        Some(p) => (&text[..p], Some(&text[p..])),
        None => (text, None),
    }
}

/// Reads a tag object back and verifies its signature; returns the signing fingerprint.
pub fn verify_tag_object(repo: &Repo, tag: Oid) -> Result<String> {
    let odb = repo.git.odb()?;
    let obj = odb.read(tag).context("reading the tag object back")?;
    let (payload, sig) = split_signed(obj.data());
    let sig = sig.ok_or_else(|| {
        failed(
            "the tag object carries no signature",
            "this is a bug: report it with the output of `git cat-file tag TAG`",
        )
    })?;
    verify(payload, sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_what_git_writes() {
        let target = Oid::from_str("1111111111111111111111111111111111111111").unwrap();
        let tagger = Signature::new(
            "Release Tester",
            "tester@example.gov",
            &git2::Time::new(1_795_725_000, 0),
        )
        .unwrap();
        assert_eq!(
            tag_payload(
                target,
                ObjectType::Commit,
                "2026-11-26T184808",
                &tagger,
                "2026-11-26T184808 release"
            ),
            "object 1111111111111111111111111111111111111111\ntype commit\ntag 2026-11-26T184808\n\
             tagger Release Tester <tester@example.gov> 1795725000 +0000\n\n2026-11-26T184808 release\n"
        );
        let west = Signature::new("A", "a@b", &git2::Time::new(1, -330)).unwrap();
        assert!(tag_payload(target, ObjectType::Commit, "t", &west, "m").contains(" 1 -0530\n"));
    }

    #[test]
    fn signature_split() {
        let raw =
            b"object x\n\nmsg\n-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n";
        let (p, s) = split_signed(raw);
        assert_eq!(p, b"object x\n\nmsg\n");
        assert!(s.unwrap().starts_with(b"-----BEGIN PGP SIGNATURE-----"));
        let (p, s) = split_signed(b"object x\n\nmsg\n");
        assert_eq!(p, b"object x\n\nmsg\n");
        assert!(s.is_none());
    }
}
