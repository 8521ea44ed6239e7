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

/// A change a watch event makes outside a relist, with the current value
/// to apply it to.
pub enum Change<'a, T, K> {
    /// The object was created or changed.
    Apply(&'a mut T, &'a K),
    /// The object was deleted.
    Delete(&'a mut T, &'a K),
}

impl<T: Default> Relisted<T> {
    /// The value as of the last complete list and the changes since.
    pub fn current(&self) -> &T {
        &self.current
    }

    /// Applies a relist's events: `Init` starts a new value, `InitApply`
    /// adds its object to it with `add`, `InitDone` puts it in place of the
    /// current one. An `Apply` or a `Delete` comes back as a [`Change`] of
    /// the current value, for the caller to make.
    pub fn relist<'a, K>(
        &'a mut self,
        event: &'a Event<K>,
        add: impl FnOnce(&mut T, &K),
    ) -> Option<Change<'a, T, K>> {
        match event {
            Event::Apply(object) => return Some(Change::Apply(&mut self.current, object)),
            Event::Delete(object) => return Some(Change::Delete(&mut self.current, object)),
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
