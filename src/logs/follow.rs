//! The follower: which CloudWatch Logs events are new, and where the next query starts.
//!
//! FilterLogEvents takes a start time in milliseconds (inclusive) and returns events with their
//! ids. Several events can share a millisecond, and an event can become visible after others with
//! the same or a later timestamp (ingestion is asynchronous, several streams interleave). Asking
//! from "newest seen + 1 ms" would miss those; asking from "newest seen" alone would print the
//! boundary events twice. So each query starts `lookback` before the newest timestamp seen
//! (never before `--since`), and the ids seen since that start are remembered: every event is
//! printed once, none is skipped because a neighbour arrived first. Ids older than the next
//! start are forgotten, so memory stays bounded by the lookback window.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::Serialize;

/// One log event as the follower sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub id: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub stream: String,
    pub message: String,
}

impl Event {
    /// The message without the trailing newline CloudWatch often keeps.
    pub fn line(&self) -> &str {
        self.message.trim_end_matches(['\n', '\r'])
    }
}

#[derive(Debug, Clone)]
pub struct Follower {
    since: i64,
    lookback: i64,
    newest: Option<i64>,
    /// Ids seen, by timestamp, from the current query start on.
    seen: BTreeMap<i64, HashSet<String>>,
    /// The start of the query in progress (fixed for all its pages).
    query_start: i64,
    total: u64,
}

impl Follower {
    /// Follows events from `since` (ms; 0 = the beginning) with the given lookback window.
    pub fn new(since: i64, lookback: Duration) -> Self {
        let since = since.max(0);
        Follower {
            since,
            lookback: i64::try_from(lookback.as_millis()).unwrap_or(i64::MAX),
            newest: None,
            seen: BTreeMap::new(),
            query_start: since,
            total: 0,
        }
    }

    /// Where the next query starts (ms, inclusive). Call once per poll, before its first page.
    pub fn start_poll(&mut self) -> i64 {
        self.query_start = match self.newest {
            Some(n) => n.saturating_sub(self.lookback).max(self.since),
            None => self.since,
        };
        self.query_start
    }

    /// Takes one page of results and returns the events not seen before, in timestamp order
    /// (stable for equal timestamps, so one stream's order is kept).
    pub fn accept(&mut self, page: Vec<Event>) -> Vec<Event> {
        let mut fresh: Vec<Event> = Vec::new();
        for e in page {
            if e.timestamp < self.since {
                continue;
            }
            let ids = self.seen.entry(e.timestamp).or_default();
            if ids.insert(e.id.clone()) {
                self.newest = Some(self.newest.map_or(e.timestamp, |n| n.max(e.timestamp)));
                fresh.push(e);
            }
        }
        fresh.sort_by_key(|e| e.timestamp);
        self.total += fresh.len() as u64;
        fresh
    }

    /// After the last page of a poll (or after a poll cut short): forgets ids the next query
    /// cannot return again.
    pub fn finish_poll(&mut self) {
        let next_start = match self.newest {
            Some(n) => n.saturating_sub(self.lookback).max(self.since),
            None => self.since,
        };
        // Never forget what the query in progress could still return (a poll cut short by
        // throttling resumes from the same window).
        let keep_from = next_start.min(self.query_start);
        self.seen = self.seen.split_off(&keep_from);
    }

    pub fn newest(&self) -> Option<i64> {
        self.newest
    }

    /// Events accepted so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// How many ids are remembered (bounded by the lookback window).
    pub fn remembered(&self) -> usize {
        self.seen.values().map(HashSet::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, ts: i64) -> Event {
        Event {
            id: id.into(),
            timestamp: ts,
            stream: "s".into(),
            message: format!("line {id}\n"),
        }
    }

    /// A fake CloudWatch: FilterLogEvents over what has been "ingested" so far.
    fn query(store: &[Event], start: i64) -> Vec<Event> {
        let mut v: Vec<Event> = store
            .iter()
            .filter(|e| e.timestamp >= start)
            .cloned()
            .collect();
        v.sort_by_key(|e| e.timestamp);
        v
    }

    fn ids(v: &[Event]) -> Vec<&str> {
        v.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn events_sharing_a_timestamp_are_printed_once_and_none_is_missed() {
        let mut f = Follower::new(0, Duration::ZERO);
        let mut store = vec![ev("a", 100), ev("b", 100), ev("c", 100)];
        let s = f.start_poll();
        assert_eq!(s, 0);
        assert_eq!(ids(&f.accept(query(&store, s))), ["a", "b", "c"]);
        f.finish_poll();
        // Two more arrive with the same millisecond, one later.
        store.extend([ev("d", 100), ev("e", 100), ev("f", 101)]);
        let s = f.start_poll();
        assert_eq!(s, 100, "the next query includes the boundary millisecond");
        assert_eq!(ids(&f.accept(query(&store, s))), ["d", "e", "f"]);
        f.finish_poll();
        let s = f.start_poll();
        assert!(f.accept(query(&store, s)).is_empty());
        f.finish_poll();
        assert_eq!(f.total(), 6);
    }

    #[test]
    fn late_events_within_the_lookback_are_not_missed() {
        let mut f = Follower::new(0, Duration::from_millis(50));
        let mut store = vec![ev("a", 1000), ev("b", 1100)];
        let s = f.start_poll();
        assert_eq!(ids(&f.accept(query(&store, s))), ["a", "b"]);
        f.finish_poll();
        // Another stream's event ingested late, 30 ms older than the newest seen.
        store.push(ev("late", 1070));
        let s = f.start_poll();
        assert_eq!(s, 1050);
        assert_eq!(ids(&f.accept(query(&store, s))), ["late"]);
        f.finish_poll();
        assert_eq!(f.remembered(), 2, "only the lookback window is remembered");
    }

    #[test]
    fn since_is_a_floor() {
        let mut f = Follower::new(500, Duration::from_secs(10));
        let store = vec![ev("old", 100), ev("new", 600)];
        let s = f.start_poll();
        assert_eq!(s, 500);
        // Even if the service returned an older event, it is not printed.
        assert_eq!(ids(&f.accept(store.clone())), ["new"]);
        f.finish_poll();
        assert_eq!(f.start_poll(), 500, "lookback never goes under --since");
    }

    #[test]
    fn pages_of_one_poll_and_a_poll_cut_short_never_repeat() {
        let mut f = Follower::new(0, Duration::ZERO);
        let store: Vec<Event> = (0..6).map(|i| ev(&format!("e{i}"), 10 + i / 2)).collect();
        let s = f.start_poll();
        let all = query(&store, s);
        // Page 1 then throttled: the poll ends early.
        assert_eq!(ids(&f.accept(all[..3].to_vec())), ["e0", "e1", "e2"]);
        f.finish_poll();
        // The next poll starts at the newest seen timestamp and returns e2 again: not reprinted.
        let s = f.start_poll();
        assert_eq!(s, 11);
        let again = query(&store, s);
        assert_eq!(ids(&again)[0], "e2");
        assert_eq!(ids(&f.accept(again)), ["e3", "e4", "e5"]);
        f.finish_poll();
    }

    #[test]
    fn interleaved_streams_come_out_in_time_order() {
        let mut f = Follower::new(0, Duration::from_secs(5));
        let page = vec![ev("x", 30), ev("y", 10), ev("z", 20)];
        assert_eq!(ids(&f.accept(page)), ["y", "z", "x"]);
        assert_eq!(f.newest(), Some(30));
        assert_eq!(ev("q", 1).line(), "line q");
    }
}
