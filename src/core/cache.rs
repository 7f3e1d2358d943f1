//! A value kept for a short time in one instance's memory. Only for aggregate figures that may
//! be a few seconds old (counts on the home page), never for anything about one person.
use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

pub struct Cached<T> {
    ttl: Duration,
    slot: Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> Cached<T> {
    pub fn new(ttl: Duration) -> Cached<T> {
        Cached { ttl, slot: Mutex::new(None) }
    }

    pub fn get(&self) -> Option<T> {
        let slot = self.slot.lock().ok()?;
        slot.as_ref().filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    pub fn put(&self, value: T) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((Instant::now(), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_served_until_it_is_stale() {
        let fresh = Cached::new(Duration::from_secs(60));
        assert_eq!(fresh.get(), None);
        fresh.put(3);
        assert_eq!(fresh.get(), Some(3));
        let stale = Cached::new(Duration::ZERO);
        stale.put(3);
        assert_eq!(stale.get(), None);
    }
}
