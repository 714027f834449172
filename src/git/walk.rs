//! `base..source` as git's revision walk computes it (`limit_list` in git's revision.c): the
//! commits reachable from `source` and not from `base`, newest first by committer time, reading
//! each commit's raw object once for its parents, its time and (for the commits kept) what the
//! caller takes from it. The raw object is let go at once: holding 13,000 of them until the end
//! cost more in fresh memory than reading them.
//!
//! libgit2's revwalk parses each commit and then the caller reads it again for its message; over
//! identity-idp's 13,000 commits that second pass, the object cache between the two and the
//! walk's own bookkeeping cost as much again as all of `git log` (see `make bench`).
//!
//! The walk keeps a queue by committer time. A commit reachable from `base` is marked
//! uninteresting and passes the mark to its parents; the walk stops once everything still queued
//! is uninteresting, plus a few more steps (git's "slop") for clocks that went backwards; a
//! commit kept early and found reachable from `base` later is dropped at the end.

use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap};

use anyhow::{Context as _, Result};
use git2::{Odb, Oid};

/// Steps taken after the queue holds only uninteresting commits (git's `SLOP`).
const SLOP: u32 = 5;

/// What the header of a raw commit object says that a walk needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub parents: Vec<Oid>,
    /// Committer time, seconds since the epoch.
    pub time: i64,
}

/// Parses `parent` lines and the committer time; `None` for a malformed header.
pub fn parse_header(data: &[u8]) -> Option<Header> {
    let mut parents = Vec::with_capacity(1);
    let mut time = None;
    for line in data.split(|&b| b == b'\n') {
        if line.is_empty() {
            break;
        }
        if let Some(hex) = line.strip_prefix(b"parent ") {
            parents.push(Oid::from_str(std::str::from_utf8(hex).ok()?).ok()?);
        } else if let Some(who) = line.strip_prefix(b"committer ") {
            // `Name <email> 1700000000 +0000`: the number after the last `>`.
            let after = &who[memchr::memrchr(b'>', who)? + 1..];
            let digits = after.trim_ascii_start().split(|&b| b == b' ').next()?;
            time = std::str::from_utf8(digits).ok()?.parse().ok();
        }
    }
    Some(Header {
        parents,
        time: time?,
    })
}

struct Node<T> {
    header: Header,
    uninteresting: bool,
    /// Taken from the queue as interesting (its parents queued as such).
    walked: bool,
    /// What the caller took from the raw object of a commit met as interesting.
    kept: Option<T>,
}

/// Object ids are hashes already: their first eight bytes spread as well as any hash of them.
#[derive(Default)]
struct OidHasher(u64);

impl std::hash::Hasher for OidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }
}

type OidMap<V> = HashMap<Oid, V, std::hash::BuildHasherDefault<OidHasher>>;

/// Queue order: newest first; equal times in the order they were queued.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Queued {
    time: i64,
    order: std::cmp::Reverse<u64>,
    oid: Oid,
}

/// The commits of `base..source`, newest first, each with what `take` made of its raw object
/// (called once per commit met from `source`'s side, while the object is read).
pub fn range<T>(
    odb: &Odb<'_>,
    base: Oid,
    source: Oid,
    take: impl FnMut(Oid, &[u8]) -> T,
) -> Result<Vec<(Oid, T)>> {
    let mut w = Walk {
        odb,
        take,
        nodes: OidMap::default(),
        queue: BinaryHeap::new(),
        queued: 0,
        uninteresting_queued: 0,
    };
    w.add(source, false)?;
    w.add(base, true)?;
    let mut kept = Vec::new();
    let mut slop = SLOP;
    while let Some(q) = w.queue.pop() {
        let node = w.nodes.get_mut(&q.oid).expect("queued nodes are known");
        let uninteresting = node.uninteresting;
        if uninteresting {
            w.uninteresting_queued -= 1;
        } else {
            node.walked = true;
            kept.push(q.oid);
        }
        // Lent out while the parents are met (a commit is never its own parent), then put back:
        // a commit walked now may be marked uninteresting later and walked again.
        let parents = std::mem::take(&mut node.header.parents);
        for p in &parents {
            w.add(*p, uninteresting)?;
        }
        w.nodes
            .get_mut(&q.oid)
            .expect("queued nodes are known")
            .header
            .parents = parents;
        // Everything left is reachable from base: a few more steps, then stop.
        if w.uninteresting_queued == w.queue.len() {
            slop -= 1;
            if slop == 0 {
                break;
            }
        } else {
            slop = SLOP;
        }
    }
    let mut out = Vec::with_capacity(kept.len());
    for oid in kept {
        let node = w.nodes.get_mut(&oid).expect("kept nodes are known");
        if let (false, Some(kept)) = (node.uninteresting, node.kept.take()) {
            out.push((oid, kept));
        }
    }
    Ok(out)
}

struct Walk<'o, 'r, T, F> {
    odb: &'o Odb<'r>,
    take: F,
    nodes: OidMap<Node<T>>,
    queue: BinaryHeap<Queued>,
    queued: u64,
    /// How many queue entries are uninteresting (entries are marked, never removed).
    uninteresting_queued: usize,
}

impl<T, F: FnMut(Oid, &[u8]) -> T> Walk<'_, '_, T, F> {
    /// Meets `oid` from an interesting or an uninteresting child. New: read and queued. Known
    /// and now reachable from base: marked, and queued again if its parents were already
    /// queued as interesting, so the mark reaches them.
    fn add(&mut self, oid: Oid, uninteresting: bool) -> Result<()> {
        match self.nodes.entry(oid) {
            Entry::Occupied(mut e) => {
                let node = e.get_mut();
                if !uninteresting || node.uninteresting {
                    return Ok(());
                }
                node.uninteresting = true;
                if node.walked {
                    let time = node.header.time;
                    self.push(time, oid, true);
                } else {
                    // Still queued as interesting: it counts as uninteresting from now on.
                    self.uninteresting_queued += 1;
                }
            }
            Entry::Vacant(v) => {
                let object = self
                    .odb
                    .read(oid)
                    .with_context(|| format!("reading commit {oid}"))?;
                let header = parse_header(object.data())
                    .with_context(|| format!("commit {oid} has a malformed header"))?;
                let time = header.time;
                let kept = (!uninteresting).then(|| (self.take)(oid, object.data()));
                v.insert(Node {
                    header,
                    uninteresting,
                    walked: false,
                    kept,
                });
                self.push(time, oid, uninteresting);
            }
        }
        Ok(())
    }

    fn push(&mut self, time: i64, oid: Oid, uninteresting: bool) {
        self.queued += 1;
        if uninteresting {
            self.uninteresting_queued += 1;
        }
        self.queue.push(Queued {
            time,
            order: std::cmp::Reverse(self.queued),
            oid,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_give_parents_and_the_committer_time() {
        let raw = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
parent 1111111111111111111111111111111111111111\n\
parent 2222222222222222222222222222222222222222\n\
author A <a@example.gov> 1700000000 +0000\n\
committer C <c> d@example.gov> 1700000099 -0500\n\
gpgsig -----BEGIN PGP SIGNATURE-----\n \n -----END PGP SIGNATURE-----\n\
\n\
parent 3333333333333333333333333333333333333333 is in the message\n";
        let h = parse_header(raw).unwrap();
        assert_eq!(
            h.parents,
            [
                Oid::from_str("1111111111111111111111111111111111111111").unwrap(),
                Oid::from_str("2222222222222222222222222222222222222222").unwrap()
            ]
        );
        assert_eq!(h.time, 1_700_000_099);
        assert_eq!(
            parse_header(b"tree x\nauthor A <a> 1 +0000\n\nno committer\n"),
            None
        );
    }
}
