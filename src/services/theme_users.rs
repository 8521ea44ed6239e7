//! Which `MeetingRoom`s use each theme, kept from the room watch's events,
//! so that a theme's pass reads its users without walking, copying and
//! sorting every cached room (themes pass every few seconds while their
//! rooms are created).
//!
//! It holds one name per room that references a theme, in a sorted set per
//! theme (about 50 bytes per such room); a room's theme is in its own
//! namespace.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use kube::runtime::watcher::Event;

use super::relisted::{Change, Relisted};
use crate::crd::MeetingRoom;

/// The rooms using each theme; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct ThemeUsers {
    users: Arc<RwLock<Relisted<Users>>>,
}

/// Room names by namespace, then by the name of the theme they reference.
type Users = HashMap<String, HashMap<String, BTreeSet<Box<str>>>>;

/// The namespace, theme name and name of a room that references a theme.
fn reference(room: &MeetingRoom) -> Option<(&str, &str, &str)> {
    let meta = &room.metadata;
    Some((
        meta.namespace.as_deref()?,
        room.spec.theme_ref.as_ref()?.name.as_str(),
        meta.name.as_deref()?,
    ))
}

fn insert(users: &mut Users, room: &MeetingRoom) {
    if let Some((namespace, theme, name)) = reference(room) {
        users
            .entry(namespace.to_owned())
            .or_default()
            .entry(theme.to_owned())
            .or_default()
            .insert(name.into());
    }
}

fn remove(users: &mut Users, room: &MeetingRoom) {
    let Some((namespace, theme, name)) = reference(room) else {
        return;
    };
    let Some(themes) = users.get_mut(namespace) else {
        return;
    };
    if let Some(names) = themes.get_mut(theme) {
        names.remove(name);
        if names.is_empty() {
            themes.remove(theme);
        }
    }
    if themes.is_empty() {
        users.remove(namespace);
    }
}

impl ThemeUsers {
    /// Names of the rooms in `namespace` that reference theme `theme`, sorted.
    pub fn of(&self, namespace: &str, theme: &str) -> Vec<String> {
        let users = self.users.read().unwrap_or_else(|e| e.into_inner());
        users
            .current()
            .get(namespace)
            .and_then(|themes| themes.get(theme))
            .map(|names| names.iter().map(|name| name.to_string()).collect())
            .unwrap_or_default()
    }

    /// Applies one room watch event, given the room as the cache held it
    /// before (`None` for a room it did not hold). Like a reflector store, a
    /// relist replaces everything once it is complete.
    pub fn apply(&self, previous: Option<&MeetingRoom>, event: &Event<MeetingRoom>) {
        // Most changes (status writes) leave the room's theme as it was.
        if let Event::Apply(room) = event
            && previous.and_then(reference) == reference(room)
        {
            return;
        }
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        let (users, room, present) = match users.relist(event, insert) {
            Some(Change::Apply(users, room)) => (users, room, true),
            Some(Change::Delete(users, room)) => (users, room, false),
            None => return,
        };
        // Out of the set its state before names; a deleted room is gone
        // whatever theme it or that state names.
        if let Some(before) = previous {
            remove(users, before);
        }
        if present {
            insert(users, room);
        } else {
            remove(users, room);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn room(namespace: &str, name: &str, theme: Option<&str>) -> MeetingRoom {
        let mut room = json!({
            "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"displayName": "r", "type": "instant"},
        });
        if let Some(theme) = theme {
            room["spec"]["themeRef"] = json!({"name": theme});
        }
        serde_json::from_value(room).unwrap()
    }

    #[test]
    fn a_theme_has_the_rooms_of_its_namespace_that_reference_it_sorted() {
        let users = ThemeUsers::default();
        for (namespace, name, theme) in [
            ("a", "zulu", Some("brand")),
            ("a", "alpha", Some("brand")),
            ("a", "plain", None),
            ("a", "other", Some("other")),
            ("b", "elsewhere", Some("brand")),
        ] {
            users.apply(None, &Event::Apply(room(namespace, name, theme)));
        }
        assert_eq!(users.of("a", "brand"), ["alpha", "zulu"]);
        assert_eq!(users.of("a", "other"), ["other"]);
        assert_eq!(users.of("b", "brand"), ["elsewhere"]);
        assert!(users.of("c", "brand").is_empty());
    }

    #[test]
    fn a_room_moves_with_its_theme_ref_and_leaves_when_deleted() {
        let users = ThemeUsers::default();
        let before = room("a", "r", Some("old"));
        users.apply(None, &Event::Apply(before.clone()));
        let after = room("a", "r", Some("new"));
        users.apply(Some(&before), &Event::Apply(after.clone()));
        assert!(users.of("a", "old").is_empty());
        assert_eq!(users.of("a", "new"), ["r"]);

        let unthemed = room("a", "r", None);
        users.apply(Some(&after), &Event::Apply(unthemed.clone()));
        assert!(users.of("a", "new").is_empty());

        users.apply(Some(&unthemed), &Event::Apply(after.clone()));
        users.apply(Some(&after), &Event::Delete(after.clone()));
        assert!(users.of("a", "new").is_empty());
        assert!(
            users.users.read().unwrap().current().is_empty(),
            "no empty sets are kept"
        );
    }

    #[test]
    fn a_relist_replaces_the_users_only_when_complete() {
        let users = ThemeUsers::default();
        users.apply(None, &Event::Apply(room("a", "gone", Some("t"))));
        users.apply(None, &Event::Apply(room("a", "kept", Some("t"))));
        users.apply(None, &Event::Init);
        users.apply(None, &Event::InitApply(room("a", "kept", Some("t"))));
        users.apply(None, &Event::InitApply(room("a", "new", Some("t"))));
        assert_eq!(
            users.of("a", "t"),
            ["gone", "kept"],
            "the old users answer meanwhile"
        );
        users.apply(None, &Event::InitDone);
        assert_eq!(users.of("a", "t"), ["kept", "new"]);
    }
}
