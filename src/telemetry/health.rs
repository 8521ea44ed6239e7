//! What `/readyz` answers.
//!
//! Readiness means "this replica is doing its job":
//! * a leader (or the only replica, without leader election) is ready once
//!   the caches of its controllers (themes and rooms, in every watched
//!   namespace) have synced;
//! * a follower is ready once it has read the Lease, so it can reach the API
//!   server and stands by. Followers run no controllers and so have no caches
//!   to wait for; holding them unready would stall every rolling update of a
//!   Deployment with more than one replica, as a follower would never become
//!   available.
//!
//! Readiness is not used to route traffic (the operator serves none but its
//! metrics), so a new leader being unready while its caches fill is harmless.

use std::sync::atomic::{AtomicU8, Ordering};

/// Where the replica is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Nothing done yet.
    Starting = 0,
    /// Following another leader.
    Standby = 1,
    /// Controllers started, caches not synced yet.
    Syncing = 2,
    /// Controllers running on synced caches.
    Running = 3,
    /// Shutting down.
    Stopping = 4,
}

impl Phase {
    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Standby,
            2 => Self::Syncing,
            3 => Self::Running,
            4 => Self::Stopping,
            _ => Self::Starting,
        }
    }

    /// Whether `/readyz` answers 200 in this phase.
    pub fn is_ready(self) -> bool {
        matches!(self, Self::Standby | Self::Running)
    }

    /// Lower-case name, as shown by `/readyz`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Standby => "standby",
            Self::Syncing => "syncing",
            Self::Running => "running",
            Self::Stopping => "stopping",
        }
    }
}

/// The replica's phase, shared by the controllers, the elector and the HTTP server.
#[derive(Debug, Default)]
pub struct Health {
    phase: AtomicU8,
}

impl Health {
    /// The current phase.
    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Acquire))
    }

    /// Moves to `phase`.
    pub fn set(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
    }

    /// Moves from `from` to `to`; does nothing (returns false) in any other phase.
    pub fn advance(&self, from: Phase, to: Phase) -> bool {
        self.phase
            .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.phase().is_ready()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_standby_and_running_are_ready() {
        let health = Health::default();
        assert_eq!(health.phase(), Phase::Starting);
        assert!(!health.is_ready());
        assert!(health.advance(Phase::Starting, Phase::Standby));
        assert!(health.is_ready());
        health.set(Phase::Syncing);
        assert!(!health.is_ready());
        assert!(!health.advance(Phase::Starting, Phase::Standby));
        assert!(health.advance(Phase::Syncing, Phase::Running));
        assert!(health.is_ready());
        health.set(Phase::Stopping);
        assert!(!health.is_ready());
        assert_eq!(health.phase().as_str(), "stopping");
    }
}
