//! Capabilities granted on frames to environments other than the owner.
//!
//! A grant records who gave it, so withdrawing a grant also withdraws every
//! grant derived from it (a holder with `GRANT` may pass on what it holds).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use exo_abi::{EnvId, FrameCaps};

use crate::mm::frame::Frame;

/// One grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub caps: FrameCaps,
    pub granter: EnvId,
}

/// All grants, by (frame, holder).
#[derive(Default)]
pub struct Grants {
    map: BTreeMap<(Frame, EnvId), Grant>,
}

impl Grants {
    /// Capabilities `holder` was granted on `frame`.
    pub fn caps(&self, frame: Frame, holder: EnvId) -> FrameCaps {
        self.map
            .get(&(frame, holder))
            .map_or(FrameCaps::empty(), |g| g.caps)
    }

    /// Adds `caps` to what `holder` holds on `frame` (from `granter`).
    pub fn add(&mut self, frame: Frame, holder: EnvId, caps: FrameCaps, granter: EnvId) {
        self.map
            .entry((frame, holder))
            .and_modify(|g| g.caps |= caps)
            .or_insert(Grant { caps, granter });
    }

    /// Environments holding a grant on `frame`.
    pub fn holders(&self, frame: Frame) -> Vec<EnvId> {
        self.map
            .range((frame, EnvId(0))..=(frame, EnvId(u32::MAX)))
            .map(|((_, h), _)| *h)
            .collect()
    }

    /// Withdraws `holder`'s grant on `frame` and every grant derived from
    /// it; returns the holders that lost their capabilities.
    pub fn withdraw(&mut self, frame: Frame, holder: EnvId) -> Vec<EnvId> {
        let mut lost = Vec::new();
        let mut todo = alloc::vec![holder];
        while let Some(h) = todo.pop() {
            if self.map.remove(&(frame, h)).is_some() {
                lost.push(h);
                todo.extend(
                    self.map
                        .range((frame, EnvId(0))..=(frame, EnvId(u32::MAX)))
                        .filter(|(_, g)| g.granter == h)
                        .map(|((_, x), _)| *x),
                );
            }
        }
        lost
    }

    /// Removes every grant on `frame`; returns the former holders.
    pub fn clear_frame(&mut self, frame: Frame) -> Vec<EnvId> {
        let holders = self.holders(frame);
        for h in &holders {
            self.map.remove(&(frame, *h));
        }
        holders
    }

    /// Frames on which `holder` holds a grant.
    pub fn frames_of(&self, holder: EnvId) -> Vec<Frame> {
        self.map
            .keys()
            .filter(|(_, h)| *h == holder)
            .map(|(f, _)| *f)
            .collect()
    }

    /// Number of grants in force.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

crate::kernel_test! {
    fn withdrawing_a_grant_withdraws_derived_grants() {
        let f = Frame::containing(0x1234_5000);
        let (a, b, c, d) = (EnvId(0x101), EnvId(0x102), EnvId(0x103), EnvId(0x104));
        let mut g = Grants::default();
        g.add(f, b, FrameCaps::READ | FrameCaps::GRANT, a);
        g.add(f, c, FrameCaps::READ, b);
        g.add(f, d, FrameCaps::READ | FrameCaps::WRITE, a);
        ensure_eq!(g.caps(f, c), FrameCaps::READ);
        ensure_eq!(g.holders(f).len(), 3);
        let mut lost = g.withdraw(f, b);
        lost.sort();
        ensure_eq!(lost, alloc::vec![b, c]);
        ensure_eq!(g.caps(f, c), FrameCaps::empty());
        ensure_eq!(g.caps(f, d), FrameCaps::READ | FrameCaps::WRITE);
        ensure_eq!(g.clear_frame(f), alloc::vec![d]);
        ensure!(g.is_empty(), "grants left after clearing the frame");
        Ok(())
    }
}
