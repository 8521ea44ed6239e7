//! The watch streams of the two controllers, and which reconciles each
//! change wakes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use futures::TryStreamExt;
use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, watcher};
use kube::{Api, Resource, ResourceExt};

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

/// Where the room cache sends the themes a room change concerns.
pub(super) struct ThemeWakeups {
    pub(super) themes: Store<MeetingTheme>,
    pub(super) send: UnboundedSender<ObjectRef<MeetingTheme>>,
    pub(super) rooms_synced: Arc<AtomicBool>,
}

impl ThemeWakeups {
    fn wake(&self, theme: ObjectRef<MeetingTheme>) {
        // Only fails once the theme controller has stopped.
        let _ = self.send.unbounded_send(theme);
    }
}

/// The theme a room uses, if any.
pub(super) fn theme_of(room: &MeetingRoom) -> Option<ObjectRef<MeetingTheme>> {
    let namespace = room.namespace()?;
    let theme = room.spec.theme_ref.as_ref()?;
    Some(ObjectRef::new(&theme.name).within(&namespace))
}

/// Room watch events applied to the room cache (without what no reconciler
/// reads), each also waking the themes whose tally it changes: the room's
/// theme, and the one it used before when that differs. One watch and one
/// cache of the rooms serve both controllers.
///
/// During a (re)list nothing is woken per room; once the list is complete
/// `rooms_synced` is set and every theme is woken, since rooms that went away
/// during a relist leave no event of their own.
pub(super) fn cached_rooms(
    events: impl futures::Stream<Item = Result<watcher::Event<MeetingRoom>, watcher::Error>>
    + Send
    + 'static,
    mut writer: reflector::store::Writer<MeetingRoom>,
    wakeups: ThemeWakeups,
) -> impl futures::Stream<Item = Result<watcher::Event<MeetingRoom>, watcher::Error>> + Send + 'static
{
    let cache = writer.as_reader();
    events.modify(prune_cached).inspect_ok(move |event| {
        let previous = match event {
            watcher::Event::Apply(room) | watcher::Event::Delete(room) => cache
                .get(&ObjectRef::from(room))
                .and_then(|cached| theme_of(&cached)),
            _ => None,
        };
        writer.apply_watcher_event(event);
        match event {
            watcher::Event::Apply(room) | watcher::Event::Delete(room) => {
                let current = theme_of(room);
                if let Some(previous) = previous.filter(|p| Some(p) != current.as_ref()) {
                    wakeups.wake(previous);
                }
                if let Some(theme) = current {
                    wakeups.wake(theme);
                }
            }
            watcher::Event::InitDone => {
                wakeups.rooms_synced.store(true, Ordering::Release);
                for theme in wakeups.themes.state() {
                    wakeups.wake(ObjectRef::from(theme.as_ref()));
                }
            }
            watcher::Event::Init | watcher::Event::InitApply(_) => {}
        }
    })
}

/// Theme changes as the room controller sees them: applied themes as they
/// are, and a deleted theme marked as being deleted (a theme without a
/// finalizer is gone without ever showing a deletion timestamp), so that
/// [`theme_matters_to`] passes its deletion on to its rooms.
pub(super) fn theme_triggers(
    api: Api<MeetingTheme>,
    config: watcher::Config,
) -> impl futures::Stream<Item = Result<MeetingTheme, watcher::Error>> + Send + 'static {
    watcher(api, config).filter_map(|event| async move {
        match event {
            Ok(watcher::Event::Apply(theme) | watcher::Event::InitApply(theme)) => Some(Ok(theme)),
            Ok(watcher::Event::Delete(mut theme)) => {
                theme
                    .metadata
                    .deletion_timestamp
                    .get_or_insert_with(|| Time(jiff::Timestamp::now()));
                Some(Ok(theme))
            }
            Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
            Err(error) => Some(Err(error)),
        }
    })
}

/// Whether a change of `theme` can change what a reconcile of `room` does.
///
/// A room reads only its theme's id, readiness and deletion. A theme's status
/// is rewritten whenever its room list or room count changes, which while
/// rooms are being created is many times a second; waking every room of the
/// theme for each of those writes cost one reconcile (and a Kubernetes read)
/// per room per write. A Ready room that already uses the theme's current id
/// has nothing to learn from a Ready theme.
pub(super) fn theme_matters_to(theme: &MeetingTheme, room: &MeetingRoom) -> bool {
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
    use futures::stream;
    use serde_json::json;

    fn room(theme: Option<&str>) -> MeetingRoom {
        let mut spec = json!({"displayName": "r", "type": "instant"});
        if let Some(theme) = theme {
            spec["themeRef"] = json!({"name": theme});
        }
        serde_json::from_value(json!({
            "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
            "metadata": {"name": "r", "namespace": "ns", "uid": "u1"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn theme(name: &str) -> MeetingTheme {
        serde_json::from_value(json!({
            "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"mainColor": "#000000", "brandText": "b"},
        }))
        .unwrap()
    }

    /// Runs `events` through the room cache with themes `a` and `b` cached,
    /// and returns the names of the themes woken after each event.
    async fn woken(events: Vec<watcher::Event<MeetingRoom>>) -> (Vec<Vec<String>>, bool) {
        let (themes, mut theme_writer) = reflector::store::<MeetingTheme>();
        theme_writer.apply_watcher_event(&watcher::Event::Apply(theme("a")));
        theme_writer.apply_watcher_event(&watcher::Event::Apply(theme("b")));
        let (_, room_writer) = reflector::store::<MeetingRoom>();
        let (send, mut receive) = futures::channel::mpsc::unbounded();
        let synced = Arc::new(AtomicBool::new(false));
        let wakeups = ThemeWakeups {
            themes,
            send,
            rooms_synced: synced.clone(),
        };
        let mut cached = std::pin::pin!(cached_rooms(
            stream::iter(events.into_iter().map(Ok)),
            room_writer,
            wakeups
        ));
        let mut after_each = Vec::new();
        while cached.next().await.is_some() {
            let mut names = Vec::new();
            while let Ok(theme) = receive.try_recv() {
                names.push(theme.name);
            }
            names.sort();
            after_each.push(names);
        }
        (after_each, synced.load(Ordering::Acquire))
    }

    #[tokio::test]
    async fn a_list_wakes_every_theme_once_complete_and_nothing_per_room() {
        let (woken, synced) = woken(vec![
            watcher::Event::Init,
            watcher::Event::InitApply(room(Some("a"))),
            watcher::Event::InitDone,
        ])
        .await;
        assert_eq!(woken, [vec![], vec![], vec!["a", "b"]]);
        assert!(synced);
    }

    #[tokio::test]
    async fn a_room_wakes_its_theme_and_the_one_it_left() {
        let (woken, synced) = woken(vec![
            watcher::Event::Apply(room(Some("a"))),
            watcher::Event::Apply(room(Some("a"))),
            watcher::Event::Apply(room(Some("b"))),
            watcher::Event::Apply(room(None)),
            watcher::Event::Apply(room(Some("a"))),
            watcher::Event::Delete(room(Some("a"))),
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
}
