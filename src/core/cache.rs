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

/// Like [`Cached`], for many keys; forgets everything when it reaches `capacity` entries.
/// Only for values whose staleness is harmless (a query-plan hint, an aggregate figure).
pub struct CachedMap<K, V> {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<std::collections::HashMap<K, (Instant, V)>>,
}

impl<K: std::hash::Hash + Eq, V: Clone> CachedMap<K, V> {
    pub fn new(ttl: Duration, capacity: usize) -> CachedMap<K, V> {
        CachedMap { ttl, capacity, entries: Mutex::new(std::collections::HashMap::new()) }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries.get(key).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: K, value: V) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), value));
        }
    }
}

#[cfg(test)]
mod map_tests {
    use super::*;

    #[test]
    fn entries_expire_and_a_full_map_starts_again() {
        let map = CachedMap::new(Duration::from_secs(60), 2);
        map.put("a", 1);
        map.put("b", 2);
        assert_eq!(map.get(&"a"), Some(1));
        map.put("c", 3);
        assert_eq!(map.get(&"a"), None, "cleared when full");
        assert_eq!(map.get(&"c"), Some(3));
        let stale = CachedMap::new(Duration::ZERO, 10);
        stale.put("a", 1);
        assert_eq!(stale.get(&"a"), None);
    }
}
