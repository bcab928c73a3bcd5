//! A linearizability checker for a history of reads and writes of key-value registers
//! (the Wing–Gong search with Lowe's memoisation of visited states).
//!
//! Keys are independent registers, so each key's sub-history is checked on its own
//! (linearizability is compositional). An operation whose outcome is unknown — it failed or
//! timed out after it may have reached the store — has no completion: a write may take
//! effect at any point after its invocation or never; an unknown read constrains nothing
//! and is dropped.

use std::collections::{BTreeMap, HashSet};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Write(u64),
    /// A read and what it returned (`None`: the key did not exist).
    Read(Option<u64>),
}

#[derive(Clone, Debug)]
pub struct Operation {
    pub key: String,
    pub kind: Kind,
    /// Nanoseconds since a common origin.
    pub invoked: u64,
    /// `None` when the outcome is unknown.
    pub completed: Option<u64>,
}

/// The first key whose history cannot be linearized, if any.
pub fn check(history: &[Operation]) -> Result<(), String> {
    let mut by_key: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for op in history {
        if matches!(op.kind, Kind::Read(_)) && op.completed.is_none() {
            continue;
        }
        by_key.entry(&op.key).or_default().push(op);
    }
    for (key, ops) in by_key {
        if !linearizable(&ops) {
            return Err(format!(
                "the history of key {key:?} ({} operations) is not linearizable",
                ops.len()
            ));
        }
    }
    Ok(())
}

struct Search<'a> {
    ops: &'a [&'a Operation],
    visited: HashSet<(Vec<u64>, Option<u64>)>,
}

fn linearizable(ops: &[&Operation]) -> bool {
    let mut search = Search {
        ops,
        visited: HashSet::new(),
    };
    let done = vec![0u64; ops.len().div_ceil(64)];
    search.explore(done, None)
}

impl Search<'_> {
    fn is_done(done: &[u64], i: usize) -> bool {
        done[i / 64] & (1 << (i % 64)) != 0
    }

    /// Depth-first: pick any pending operation that may come next, apply it, recurse.
    fn explore(&mut self, done: Vec<u64>, value: Option<u64>) -> bool {
        let pending: Vec<usize> = (0..self.ops.len())
            .filter(|i| !Self::is_done(&done, *i))
            .collect();
        if pending.iter().all(|i| self.ops[*i].completed.is_none()) {
            return true; // what remains are writes of unknown outcome: they may never have happened
        }
        if !self.visited.insert((done.clone(), value)) {
            return false;
        }
        // An operation may be linearized next only if no pending one completed before it began.
        let horizon = pending
            .iter()
            .filter_map(|i| self.ops[*i].completed)
            .min()
            .unwrap_or(u64::MAX);
        for &i in &pending {
            let op = self.ops[i];
            if op.invoked > horizon {
                continue;
            }
            let next_value = match op.kind {
                Kind::Write(v) => Some(v),
                Kind::Read(seen) if seen == value => value,
                Kind::Read(_) => continue,
            };
            let mut next = done.clone();
            next[i / 64] |= 1 << (i % 64);
            if self.explore(next, next_value) {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: Kind, invoked: u64, completed: Option<u64>) -> Operation {
        Operation {
            key: "k".into(),
            kind,
            invoked,
            completed,
        }
    }

    #[test]
    fn accepts_overlapping_operations_in_either_order() {
        let h = vec![
            op(Kind::Write(1), 0, Some(10)),
            op(Kind::Read(Some(1)), 2, Some(4)),
            op(Kind::Read(None), 1, Some(3)),
        ];
        assert!(check(&h).is_ok());
    }

    #[test]
    fn rejects_a_stale_read() {
        let h = vec![
            op(Kind::Write(1), 0, Some(1)),
            op(Kind::Write(2), 2, Some(3)),
            op(Kind::Read(Some(1)), 4, Some(5)),
        ];
        assert!(check(&h).is_err());
    }

    #[test]
    fn rejects_a_value_that_comes_back() {
        let h = vec![
            op(Kind::Write(1), 0, Some(1)),
            op(Kind::Write(2), 0, Some(10)),
            op(Kind::Read(Some(2)), 2, Some(3)),
            op(Kind::Read(Some(1)), 4, Some(5)),
        ];
        assert!(check(&h).is_err());
    }

    #[test]
    fn an_unknown_write_may_or_may_not_have_happened() {
        let happened = vec![
            op(Kind::Write(7), 0, None),
            op(Kind::Read(Some(7)), 5, Some(6)),
        ];
        assert!(check(&happened).is_ok());
        let never = vec![
            op(Kind::Write(7), 0, None),
            op(Kind::Read(None), 5, Some(6)),
        ];
        assert!(check(&never).is_ok());
        let read_before_invoked = vec![
            op(Kind::Read(Some(7)), 0, Some(1)),
            op(Kind::Write(7), 5, None),
        ];
        assert!(check(&read_before_invoked).is_err());
    }
}
