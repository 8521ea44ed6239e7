//! The watch streams of the two controllers, and which reconciles each
//! change wakes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::channel::mpsc::UnboundedSender;
use futures::{Stream, TryStreamExt};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use crate::crd::conditions::{READY, is_true};
use crate::crd::{MeetingRoom, MeetingTheme};

/// Drops what no reconciler reads from an object before it is cached.
pub(super) fn prune_cached<K: Resource>(object: &mut K) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// A watch with what no reconciler reads pruned (see [`prune_cached`]),
/// applied to the cache behind `writer` like kube's `reflector`, each event
/// then handed to `wake` together with the object as it was cached before.
/// This is how one watch of a kind serves both controllers.
pub(super) fn cached<K>(
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    mut writer: reflector::store::Writer<K>,
    mut wake: impl FnMut(Option<Arc<K>>, &watcher::Event<K>) + Send + 'static,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    let cache = writer.as_reader();
    events.modify(prune_cached).inspect_ok(move |event| {
        let previous = match event {
            watcher::Event::Apply(object) | watcher::Event::Delete(object) => {
                cache.get(&ObjectRef::from(object))
            }
            _ => None,
        };
        writer.apply_watcher_event(event);
        wake(previous, event);
    })
}

/// Sends wake-ups to a controller through its `reconcile_on` stream.
fn send<K: Resource>(to: &UnboundedSender<ObjectRef<K>>, object: ObjectRef<K>) {
    // Only fails once that controller has stopped.
    let _ = to.unbounded_send(object);
}

/// Which themes a room change concerns: their room tallies and whether they
/// may be deleted depend on it.
pub(super) struct ThemeWakeups {
    pub(super) themes: Store<MeetingTheme>,
    pub(super) send: UnboundedSender<ObjectRef<MeetingTheme>>,
    pub(super) rooms_synced: Arc<AtomicBool>,
}

impl ThemeWakeups {
    /// Wakes the room's theme, and the one it used before when that differs.
    ///
    /// During a (re)list nothing is woken per room; once the list is complete
    /// `rooms_synced` is set and every theme is woken, since rooms that went
    /// away during a relist leave no event of their own.
    pub(super) fn room_changed(
        &self,
        previous: Option<Arc<MeetingRoom>>,
        event: &watcher::Event<MeetingRoom>,
    ) {
        match event {
            watcher::Event::Apply(room) | watcher::Event::Delete(room) => {
                let current = theme_of(room);
                let before = previous.and_then(|room| theme_of(&room));
                if let Some(before) = before.filter(|b| Some(b) != current.as_ref()) {
                    send(&self.send, before);
                }
                if let Some(theme) = current {
                    send(&self.send, theme);
                }
            }
            watcher::Event::InitDone => {
                self.rooms_synced.store(true, Ordering::Release);
                for theme in self.themes.state() {
                    send(&self.send, ObjectRef::from(theme.as_ref()));
                }
            }
            watcher::Event::Init | watcher::Event::InitApply(_) => {}
        }
    }
}

/// Which rooms a theme change concerns: those using it, unless the change
/// cannot alter their reconcile (see [`theme_matters_to`]).
pub(super) struct RoomWakeups {
    pub(super) rooms: Store<MeetingRoom>,
    pub(super) send: UnboundedSender<ObjectRef<MeetingRoom>>,
}

impl RoomWakeups {
    /// Wakes the rooms that use the theme and need to learn of its change;
    /// all of them when it is gone.
    pub(super) fn theme_changed(&self, event: &watcher::Event<MeetingTheme>) {
        let (theme, deleted) = match event {
            watcher::Event::Apply(theme) | watcher::Event::InitApply(theme) => (theme, false),
            watcher::Event::Delete(theme) => (theme, true),
            watcher::Event::Init | watcher::Event::InitDone => return,
        };
        let theme_ref = ObjectRef::from(theme);
        for room in self.rooms.state() {
            if theme_of(&room).as_ref() == Some(&theme_ref)
                && (deleted || theme_matters_to(theme, &room))
            {
                send(&self.send, ObjectRef::from(room.as_ref()));
            }
        }
    }
}

/// The theme a room uses, if any.
pub(super) fn theme_of(room: &MeetingRoom) -> Option<ObjectRef<MeetingTheme>> {
    let namespace = room.namespace()?;
    let theme = room.spec.theme_ref.as_ref()?;
    Some(ObjectRef::new(&theme.name).within(&namespace))
}

/// Whether a change of `theme` can change what a reconcile of `room` does.
///
/// A room reads only its theme's id, readiness and deletion. A theme's status
/// is rewritten whenever its room list or room count changes, which while
/// rooms are being created is many times a second; waking every room of the
/// theme for each of those writes cost one reconcile (and a Kubernetes read)
/// per room per write. A Ready room that already uses the theme's current id
/// has nothing to learn from a Ready theme.
fn theme_matters_to(theme: &MeetingTheme, room: &MeetingRoom) -> bool {
    let theme_status = theme.status.as_ref();
    let theme_usable = theme.metadata.deletion_timestamp.is_none()
        && theme_status.is_some_and(|s| s.theme_id.is_some() && is_true(&s.conditions, READY));
    let room_settled = room.status.as_ref().is_some_and(|s| {
        is_true(&s.conditions, READY)
            && s.theme_id.is_some()
            && s.theme_id == theme_status.and_then(|t| t.theme_id.clone())
    });
    !(theme_usable && room_settled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use futures::channel::mpsc::{UnboundedReceiver, unbounded};
    use futures::stream;
    use serde_json::json;

    /// A room on `theme`; Ready on theme id `settled_on` when given.
    fn room(name: &str, theme: Option<&str>, settled_on: Option<&str>) -> MeetingRoom {
        let mut room = json!({
            "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
            "metadata": {"name": name, "namespace": "ns", "uid": name},
            "spec": {"displayName": "r", "type": "instant"},
        });
        if let Some(theme) = theme {
            room["spec"]["themeRef"] = json!({"name": theme});
        }
        if let Some(theme_id) = settled_on {
            room["status"] = json!({"themeId": theme_id, "conditions": [ready()]});
        }
        serde_json::from_value(room).unwrap()
    }

    /// Theme `name`; Ready with `theme_id` when given.
    fn theme(name: &str, theme_id: Option<&str>) -> MeetingTheme {
        let mut theme = json!({
            "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"mainColor": "#000000", "brandText": "b"},
        });
        if let Some(theme_id) = theme_id {
            theme["status"] = json!({"themeId": theme_id, "conditions": [ready()]});
        }
        serde_json::from_value(theme).unwrap()
    }

    fn ready() -> serde_json::Value {
        json!({"type": READY, "status": "True", "reason": "Ready", "message": "",
               "lastTransitionTime": "2026-01-01T00:00:00Z"})
    }

    /// Runs `events` through [`cached`] with `wake`, and returns the names
    /// `woken` received after each event.
    async fn woken_after_each<K, T>(
        events: Vec<watcher::Event<K>>,
        wake: impl FnMut(Option<Arc<K>>, &watcher::Event<K>) + Send + 'static,
        mut woken: UnboundedReceiver<ObjectRef<T>>,
    ) -> Vec<Vec<String>>
    where
        K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
        T: Resource,
    {
        let (_, writer) = reflector::store::<K>();
        let mut cached = std::pin::pin!(cached(
            stream::iter(events.into_iter().map(Ok)),
            writer,
            wake
        ));
        let mut after_each = Vec::new();
        while cached.next().await.is_some() {
            let mut names = Vec::new();
            while let Ok(object) = woken.try_recv() {
                names.push(object.name);
            }
            names.sort();
            after_each.push(names);
        }
        after_each
    }

    /// Themes woken by room `events`, with themes `a` and `b` cached.
    async fn themes_woken(events: Vec<watcher::Event<MeetingRoom>>) -> (Vec<Vec<String>>, bool) {
        let (themes, mut theme_writer) = reflector::store::<MeetingTheme>();
        for name in ["a", "b"] {
            theme_writer.apply_watcher_event(&watcher::Event::Apply(theme(name, None)));
        }
        let (send, receive) = unbounded();
        let synced = Arc::new(AtomicBool::new(false));
        let wakeups = ThemeWakeups {
            themes,
            send,
            rooms_synced: synced.clone(),
        };
        let woken = woken_after_each(
            events,
            move |previous, event| wakeups.room_changed(previous, event),
            receive,
        )
        .await;
        (woken, synced.load(Ordering::Acquire))
    }

    #[tokio::test]
    async fn a_list_wakes_every_theme_once_complete_and_nothing_per_room() {
        let (woken, synced) = themes_woken(vec![
            watcher::Event::Init,
            watcher::Event::InitApply(room("r", Some("a"), None)),
            watcher::Event::InitDone,
        ])
        .await;
        assert_eq!(woken, [vec![], vec![], vec!["a", "b"]]);
        assert!(synced);
    }

    #[tokio::test]
    async fn a_room_wakes_its_theme_and_the_one_it_left() {
        let (woken, synced) = themes_woken(vec![
            watcher::Event::Apply(room("r", Some("a"), None)),
            watcher::Event::Apply(room("r", Some("a"), None)),
            watcher::Event::Apply(room("r", Some("b"), None)),
            watcher::Event::Apply(room("r", None, None)),
            watcher::Event::Apply(room("r", Some("a"), None)),
            watcher::Event::Delete(room("r", Some("a"), None)),
        ])
        .await;
        assert_eq!(
            woken,
            [
                vec!["a"],
                vec!["a"],
                vec!["a", "b"],
                vec!["b"],
                vec!["a"],
                vec!["a"],
            ]
        );
        assert!(!synced, "only a complete list marks the cache synced");
    }

    #[tokio::test]
    async fn a_theme_wakes_only_its_rooms_that_have_something_to_learn() {
        let (rooms, mut room_writer) = reflector::store::<MeetingRoom>();
        for room in [
            room("settled", Some("a"), Some("id-1")),
            room("waiting", Some("a"), None),
            room("elsewhere", Some("b"), None),
        ] {
            room_writer.apply_watcher_event(&watcher::Event::Apply(room));
        }
        let (send, receive) = unbounded();
        let wakeups = RoomWakeups { rooms, send };
        let mut deleting = theme("a", Some("id-1"));
        deleting.metadata.deletion_timestamp = Some(crate::controller::now());
        let woken = woken_after_each(
            vec![
                watcher::Event::Apply(theme("a", None)),
                watcher::Event::Apply(theme("a", Some("id-1"))),
                watcher::Event::Apply(theme("a", Some("id-2"))),
                watcher::Event::Apply(deleting),
                watcher::Event::Delete(theme("a", Some("id-1"))),
            ],
            move |_, event| wakeups.theme_changed(event),
            receive,
        )
        .await;
        assert_eq!(
            woken,
            [
                vec!["settled", "waiting"],
                vec!["waiting"],
                vec!["settled", "waiting"],
                vec!["settled", "waiting"],
                vec!["settled", "waiting"],
            ]
        );
    }
}
