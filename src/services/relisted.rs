//! What a watch's events build, kept the way a reflector store keeps its
//! objects: a relist builds a new value beside the current one, which
//! answers until the relist is complete and the new value replaces it
//! (objects deleted while the watch was down leave no event of their own).

use kube::runtime::watcher::Event;

/// The current value, and the one a relist in progress is building.
#[derive(Default)]
pub struct Relisted<T> {
    current: T,
    relisting: Option<T>,
}

impl<T: Default> Relisted<T> {
    /// The value as of the last complete list and the changes since.
    pub fn current(&self) -> &T {
        &self.current
    }

    /// Applies a relist's events: `Init` starts a new value, `InitApply`
    /// adds its object to it with `add`, `InitDone` puts it in place of the
    /// current one. For an `Apply` or a `Delete`, gives back the current
    /// value for the caller to change.
    pub fn relist<K>(&mut self, event: &Event<K>, add: impl FnOnce(&mut T, &K)) -> Option<&mut T> {
        match event {
            Event::Apply(_) | Event::Delete(_) => return Some(&mut self.current),
            Event::Init => self.relisting = Some(T::default()),
            Event::InitApply(object) => add(self.relisting.get_or_insert_with(T::default), object),
            Event::InitDone => {
                if let Some(relisted) = self.relisting.take() {
                    self.current = relisted;
                }
            }
        }
        None
    }
}
