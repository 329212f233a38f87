//! THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 4), over a list of messages.
//!
//! Trees live in an arena and every traversal uses an explicit stack, so a long reply
//! chain cannot exhaust the call stack; the imap-types output is cut at [`MAX_DEPTH`].

use std::collections::HashMap;
use std::num::NonZeroU32;

use imap_codec::imap_types::core::{Vec1, Vec2};
use imap_codec::imap_types::extensions::thread::{Thread, ThreadingAlgorithm};

use super::sort::{SortItem, ascii_casemap};

/// Which threading algorithm (RFC 5256 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    OrderedSubject,
    References,
}

impl ThreadAlgorithm {
    /// Our algorithm for a parsed THREAD command; `None` for ones we do not offer.
    pub fn from_imap(a: &ThreadingAlgorithm<'_>) -> Option<Self> {
        match a {
            ThreadingAlgorithm::OrderedSubject => Some(Self::OrderedSubject),
            ThreadingAlgorithm::References => Some(Self::References),
            ThreadingAlgorithm::Other(_) => None,
        }
    }
}

/// Deepest nesting in the answer; deeper replies are listed as children of the node at
/// this depth, in date order. (imap-types encodes, compares and drops `Thread` trees
/// recursively.)
pub const MAX_DEPTH: usize = 100;
/// Most parent hops followed when checking for a loop.
const MAX_LOOP_WALK: usize = 100_000;

/// Thread `items` (in sequence order) with `algorithm`.
pub fn thread(items: &[SortItem<'_>], algorithm: ThreadAlgorithm) -> Vec<Thread> {
    let mut forest = match algorithm {
        ThreadAlgorithm::OrderedSubject => ordered_subject(items),
        ThreadAlgorithm::References => references(items),
    };
    let roots = std::mem::take(&mut forest.roots);
    roots.iter().filter_map(|&r| forest.to_thread(r, items)).collect()
}

#[derive(Debug, Default, Clone)]
struct Node {
    /// Index into the items, or `None` for a dummy (a referenced but absent message).
    msg: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

#[derive(Debug, Default)]
struct Forest {
    nodes: Vec<Node>,
    roots: Vec<usize>,
}

/// Sort key of a message: sent date (or internal date), then sequence order.
fn date_key(items: &[SortItem<'_>], i: usize) -> (i64, usize) {
    (items.get(i).map_or(0, SortItem::sent_or_internal), i)
}

impl Forest {
    fn add(&mut self, msg: Option<usize>) -> usize {
        self.nodes.push(Node { msg, ..Node::default() });
        self.nodes.len() - 1
    }

    fn msg(&self, n: usize) -> Option<usize> {
        self.nodes.get(n).and_then(|n| n.msg)
    }

    fn children(&self, n: usize) -> &[usize] {
        self.nodes.get(n).map_or(&[], |n| n.children.as_slice())
    }

    fn parent(&self, n: usize) -> Option<usize> {
        self.nodes.get(n).and_then(|n| n.parent)
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.parent(child) {
            if let Some(node) = self.nodes.get_mut(p) {
                node.children.retain(|&c| c != child);
            }
            if let Some(node) = self.nodes.get_mut(child) {
                node.parent = None;
            }
        }
    }

    fn link(&mut self, parent: usize, child: usize) {
        self.unlink(child);
        if let Some(node) = self.nodes.get_mut(child) {
            node.parent = Some(parent);
        }
        if let Some(node) = self.nodes.get_mut(parent) {
            node.children.push(child);
        }
    }

    /// Would making `parent` the parent of `child` create a loop (is `parent` `child` or
    /// one of its descendants)?
    fn would_loop(&self, parent: usize, child: usize) -> bool {
        let mut cur = Some(parent);
        for _ in 0..MAX_LOOP_WALK {
            match cur {
                None => return false,
                Some(c) if c == child => return true,
                Some(c) => cur = self.parent(c),
            }
        }
        true
    }

    /// The date key of a node: its message, or for a dummy its first child's.
    fn key(&self, items: &[SortItem<'_>], n: usize) -> (i64, usize) {
        let mut cur = n;
        for _ in 0..self.nodes.len() {
            match self.msg(cur) {
                Some(i) => return date_key(items, i),
                None => match self.children(cur).first() {
                    Some(&c) => cur = c,
                    None => break,
                },
            }
        }
        (i64::MAX, usize::MAX)
    }

    /// Nodes below `roots` in post-order (children before their parent).
    fn post_order(&self, roots: &[usize]) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<(usize, bool)> = roots.iter().rev().map(|&r| (r, false)).collect();
        while let Some((n, expanded)) = stack.pop() {
            if expanded {
                out.push(n);
            } else {
                stack.push((n, true));
                stack.extend(self.children(n).iter().rev().map(|&c| (c, false)));
            }
        }
        out
    }

    /// Sort every sibling list by date, youngest generations first (RFC 5256 4, step 6).
    fn sort_children(&mut self, items: &[SortItem<'_>]) {
        for n in self.post_order(&self.roots.clone()) {
            let mut kids = self.children(n).to_vec();
            kids.sort_by_key(|&c| self.key(items, c));
            if let Some(node) = self.nodes.get_mut(n) {
                node.children = kids;
            }
        }
    }

    /// Convert one root into an imap-types thread.
    fn to_thread(&self, root: usize, items: &[SortItem<'_>]) -> Option<Thread> {
        self.convert(root, items, 0)
    }

    fn id(&self, n: usize, items: &[SortItem<'_>]) -> Option<NonZeroU32> {
        self.msg(n)
            .and_then(|i| items.get(i))
            .and_then(|it| NonZeroU32::new(it.id))
    }

    fn convert(&self, node: usize, items: &[SortItem<'_>], depth: usize) -> Option<Thread> {
        // A chain of single replies is one prefix: "(1 2 3)".
        let mut prefix = Vec::new();
        let mut cur = node;
        while let Some(id) = self.id(cur, items) {
            prefix.push(id);
            match self.children(cur) {
                [only] => cur = *only,
                _ => break,
            }
        }
        let answers: Vec<Thread> = if depth >= MAX_DEPTH {
            // Too deep: everything below becomes a flat list of leaves.
            let mut below = self.post_order(self.children(cur));
            below.sort_by_key(|&n| self.key(items, n));
            below
                .into_iter()
                .filter_map(|n| self.id(n, items))
                .map(|id| Thread::Members {
                    prefix: Vec1::from(id),
                    answers: None,
                })
                .collect()
        } else {
            self.children(cur)
                .iter()
                .filter_map(|&c| self.convert(c, items, depth + 1))
                .collect()
        };
        join(prefix, answers)
    }
}

/// Build a thread from a prefix and its answers, keeping the imap-types invariants
/// (prefix non-empty, at least two answers).
fn join(mut prefix: Vec<NonZeroU32>, mut answers: Vec<Thread>) -> Option<Thread> {
    if answers.len() == 1 {
        match answers.pop() {
            Some(Thread::Members { prefix: p, answers: a }) => {
                prefix.extend(p.into_inner());
                answers = a.map(|a| a.into_inner()).unwrap_or_default();
            }
            Some(Thread::Nested { answers: a }) => answers = a.into_inner(),
            None => {}
        }
    }
    let answers = Vec2::try_from(answers);
    match Vec1::try_from(prefix) {
        Ok(prefix) => Some(Thread::Members {
            prefix,
            answers: answers.ok(),
        }),
        Err(_) => answers.ok().map(|answers| Thread::Nested { answers }),
    }
}

/// RFC 5256 4 ORDEREDSUBJECT: group by base subject; the earliest message of each group
/// is the parent of all the others; groups ordered by their first message's date.
fn ordered_subject(items: &[SortItem<'_>]) -> Forest {
    let mut order: Vec<usize> = (0..items.len()).collect();
    let subject = |i: usize| items.get(i).map_or("", |it| it.summary.base_subject.as_str());
    order.sort_by(|&a, &b| ascii_casemap(subject(a), subject(b)).then(date_key(items, a).cmp(&date_key(items, b))));
    let mut f = Forest::default();
    let mut current: Option<(usize, &str)> = None;
    for i in order {
        let node = f.add(Some(i));
        match current {
            Some((root, s)) if s.eq_ignore_ascii_case(subject(i)) => f.link(root, node),
            _ => {
                f.roots.push(node);
                current = Some((node, subject(i)));
            }
        }
    }
    let mut roots = std::mem::take(&mut f.roots);
    roots.sort_by_key(|&r| f.key(items, r));
    f.roots = roots;
    f
}

/// RFC 5256 4 REFERENCES (the "jwz" algorithm).
fn references(items: &[SortItem<'_>]) -> Forest {
    let mut f = Forest::default();
    let mut by_id: HashMap<&str, usize> = HashMap::new();

    // (1) Link messages by Message-ID and References (In-Reply-To when there are none).
    for (i, item) in items.iter().enumerate() {
        let s = item.summary;
        let own = match s.message_id.as_deref() {
            Some(id) => match by_id.get(id) {
                // A duplicate Message-ID is treated as if it had none.
                Some(&n) if f.msg(n).is_some() => f.add(Some(i)),
                Some(&n) => {
                    if let Some(node) = f.nodes.get_mut(n) {
                        node.msg = Some(i);
                    }
                    n
                }
                None => {
                    let n = f.add(Some(i));
                    by_id.insert(id, n);
                    n
                }
            },
            None => f.add(Some(i)),
        };
        let refs: &[String] = if s.references.is_empty() {
            s.in_reply_to.get(..1).unwrap_or_default()
        } else {
            &s.references
        };
        let mut prev: Option<usize> = None;
        for r in refs {
            let n = match by_id.get(r.as_str()) {
                Some(&n) => n,
                None => {
                    let n = f.add(None);
                    by_id.insert(r.as_str(), n);
                    n
                }
            };
            // (1A) link consecutive references unless already parented or looping.
            if let Some(p) = prev
                && f.parent(n).is_none()
                && !f.would_loop(p, n)
            {
                f.link(p, n);
            }
            prev = Some(n);
        }
        // (1B) the last reference becomes this message's parent, replacing any old link.
        f.unlink(own);
        if let Some(p) = prev
            && !f.would_loop(p, own)
        {
            f.link(p, own);
        }
    }

    // (2) The root set.
    f.roots = (0..f.nodes.len()).filter(|&n| f.parent(n).is_none()).collect();

    // (3) Prune dummies.
    prune(&mut f);

    // (4) Sort the root set by date (a dummy by its first child's date).
    f.sort_children(items);
    let mut roots = std::mem::take(&mut f.roots);
    roots.sort_by_key(|&r| f.key(items, r));
    f.roots = roots;

    // (5) Gather roots with the same base subject.
    merge_subjects(&mut f, items);

    // (6) Sort all sibling lists again after the merge.
    f.sort_children(items);
    f
}

fn prune(f: &mut Forest) {
    // Root level: drop empty dummies; a dummy with one child is replaced by that child.
    let mut roots = Vec::new();
    let mut queue: Vec<usize> = f.roots.iter().rev().copied().collect();
    while let Some(r) = queue.pop() {
        if f.msg(r).is_some() {
            roots.push(r);
            continue;
        }
        match f.children(r).to_vec().as_slice() {
            [] => {}
            [only] => {
                f.unlink(*only);
                queue.push(*only);
            }
            _ => roots.push(r),
        }
    }
    f.roots = roots;
    // Below the roots: splice every dummy's children into its place.
    let mut stack = f.roots.clone();
    while let Some(n) = stack.pop() {
        let mut kept = Vec::new();
        let mut queue: Vec<usize> = f.children(n).iter().rev().copied().collect();
        while let Some(c) = queue.pop() {
            if f.msg(c).is_some() {
                kept.push(c);
            } else {
                queue.extend(f.children(c).iter().rev().copied());
            }
        }
        for &c in &kept {
            if let Some(node) = f.nodes.get_mut(c) {
                node.parent = Some(n);
            }
        }
        stack.extend(kept.iter().copied());
        if let Some(node) = f.nodes.get_mut(n) {
            node.children = kept;
        }
    }
}

/// The subject a root stands for: its message's, or for a dummy its first child's.
fn root_subject<'a>(f: &Forest, items: &[SortItem<'a>], r: usize) -> Option<(&'a str, bool)> {
    let m = f.msg(r).or_else(|| f.children(r).first().and_then(|&c| f.msg(c)))?;
    let s = items.get(m)?.summary;
    Some((s.base_subject.as_str(), s.subject_is_reply))
}

fn merge_subjects(f: &mut Forest, items: &[SortItem<'_>]) {
    // (5A-B) one root per base subject: prefer a dummy, then a non-reply.
    let mut table: HashMap<String, usize> = HashMap::new();
    for &r in &f.roots {
        let Some((subj, reply)) = root_subject(f, items, r) else {
            continue;
        };
        if subj.is_empty() {
            continue;
        }
        let key = subj.to_ascii_lowercase();
        match table.get(&key) {
            None => {
                table.insert(key, r);
            }
            Some(&t) => {
                let t_reply = root_subject(f, items, t).is_some_and(|(_, rp)| rp);
                if (f.msg(t).is_some() && f.msg(r).is_none()) || (t_reply && !reply) {
                    table.insert(key, r);
                }
            }
        }
    }
    // (5C) merge the other roots into the table's.
    let mut roots = f.roots.clone();
    let mut i = 0;
    while let Some(&r) = roots.get(i) {
        let Some((subj, reply)) = root_subject(f, items, r) else {
            i += 1;
            continue;
        };
        let key = subj.to_ascii_lowercase();
        let Some(&t) = table.get(&key).filter(|_| !subj.is_empty()) else {
            i += 1;
            continue;
        };
        if t == r {
            i += 1;
            continue;
        }
        let t_dummy = f.msg(t).is_none();
        let r_dummy = f.msg(r).is_none();
        let t_reply = root_subject(f, items, t).is_some_and(|(_, rp)| rp);
        if t_dummy && r_dummy {
            for c in f.children(r).to_vec() {
                f.link(t, c);
            }
        } else if t_dummy || (reply && !t_reply) {
            f.link(t, r);
        } else {
            let d = f.add(None);
            if let Some(slot) = roots.iter_mut().find(|x| **x == t) {
                *slot = d;
            }
            f.link(d, t);
            f.link(d, r);
            table.insert(key, d);
        }
        roots.remove(i);
    }
    f.roots = roots;
}
