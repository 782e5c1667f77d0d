//! The configuration in force, shared by everything that reads it and replaced whole on a
//! reload: each reader takes the current `Arc<Config>` and keeps it for what it is doing,
//! so one command or delivery never sees half of an old config and half of a new one.

use std::sync::{Arc, RwLock};

use super::Config;

#[derive(Clone)]
pub struct Live(Arc<RwLock<Arc<Config>>>);

impl Live {
    pub fn new(cfg: Arc<Config>) -> Live {
        Live(Arc::new(RwLock::new(cfg)))
    }

    /// The configuration in force now.
    pub fn get(&self) -> Arc<Config> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts `next` in force. What was learned while running (Slack users found by e-mail)
    /// carries over.
    pub fn replace(&self, mut next: Config) {
        let mut slot = self.0.write().unwrap_or_else(|p| p.into_inner());
        next.learned = slot.learned.clone();
        *slot = Arc::new(next);
    }
}

impl From<Arc<Config>> for Live {
    fn from(cfg: Arc<Config>) -> Live {
        Live::new(cfg)
    }
}
