//! The watch streams of the two controllers, and which reconciles each
//! change wakes.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::channel::mpsc::UnboundedSender;
use futures::{Stream, StreamExt, TryStreamExt};
use kube::core::object::HasStatus;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use tokio::time::Instant;

use crate::controller::theme::writes_tallies_only;
use crate::crd::conditions::{READY, is_true};
use crate::crd::managed::ManagedStatus;
use crate::crd::{MeetingRoom, MeetingTheme};
use crate::services::status_cache::WriteBudget;

/// Drops what no reconciler reads from an object before it is cached, and
/// gives back the room its lists were decoded with (a decoded list of two
/// conditions holds room for four: at 100,000 rooms, 25 MB).
pub fn prune_cached<K>(object: &mut K)
where
    K: Resource + HasStatus<Status: ManagedStatus>,
{
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
    if let Some(finalizers) = meta.finalizers.as_mut() {
        finalizers.shrink_to_fit();
    }
    if let Some(status) = object.status_mut() {
        status.conditions_mut().shrink_to_fit();
    }
}

/// One watch event as [`cached`] applied it.
pub struct Applied<K> {
    /// The event.
    pub event: watcher::Event<K>,
    /// Whether it applies an object whose [`wanted_change`] differs from the
    /// object cached before it (or that was not cached).
    pub wanted: bool,
}

impl<K> Applied<K> {
    /// The object to reconcile, when the event applies one that needs it.
    pub fn to_reconcile(self) -> Option<K> {
        match self.event {
            watcher::Event::Apply(object) | watcher::Event::InitApply(object) if self.wanted => {
                Some(object)
            }
            _ => None,
        }
    }
}

/// A watch with what no reconciler reads pruned (see [`prune_cached`]),
/// applied to the cache behind `writer` like kube's `reflector`, each event
/// then handed to `wake` together with the object as it was cached before.
/// This is how one watch of a kind serves both controllers. Each event says
/// whether it needs a reconcile, as kube's `predicate_filter` would with
/// [`wanted_change`], but from the cache: no second map of every object.
pub fn cached<K>(
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    mut writer: reflector::store::Writer<K>,
    mut wake: impl FnMut(Option<Arc<K>>, &watcher::Event<K>) + Send + 'static,
) -> impl Stream<Item = Result<Applied<K>, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + HasStatus<Status: ManagedStatus>,
    K: Clone + Send + Sync + 'static,
{
    let cache = writer.as_reader();
    events.modify(prune_cached).map_ok(move |event| {
        let previous = match &event {
            watcher::Event::Apply(object)
            | watcher::Event::Delete(object)
            | watcher::Event::InitApply(object) => cache.get(&ObjectRef::from(object)),
            _ => None,
        };
        let wanted = match &event {
            watcher::Event::Apply(object) | watcher::Event::InitApply(object) => {
                previous.as_deref().map(wanted_change) != Some(wanted_change(object))
            }
            _ => false,
        };
        writer.apply_watcher_event(&event);
        // A (re)list's objects are told apart from changes by their event.
        let previous = previous.filter(|_| !matches!(event, watcher::Event::InitApply(_)));
        wake(previous, &event);
        Applied { event, wanted }
    })
}

/// The objects of `applied` that need a reconcile (see [`Applied::to_reconcile`]).
pub fn to_reconcile<K: Send + 'static>(
    applied: impl Stream<Item = Result<Applied<K>, watcher::Error>> + Send + 'static,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static {
    applied.try_filter_map(|applied| std::future::ready(Ok(applied.to_reconcile())))
}

/// A hash of what a change must touch to be reconciled: the generation
/// (the spec, and the deletion mark), annotations, finalizers and the
/// deletion timestamp. Status writes (the operator's own, the callback
/// receiver's) pass by: the pass that wrote a status already acted on it.
pub fn wanted_change<K: Resource>(object: &K) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let meta = object.meta();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    meta.generation.hash(&mut hasher);
    meta.annotations.hash(&mut hasher);
    meta.finalizers.hash(&mut hasher);
    meta.deletion_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .hash(&mut hasher);
    Some(hasher.finish())
}

/// The object of a delete event: a deleted host-URL Secret is written
/// again; its creation and updates need no reconcile.
pub fn deleted<K>(event: watcher::Event<K>) -> Option<K> {
    match event {
        watcher::Event::Delete(object) => Some(object),
        _ => None,
    }
}

/// Sends wake-ups to a controller through its `reconcile_on` stream.
fn send<K: Resource>(to: &UnboundedSender<ObjectRef<K>>, object: ObjectRef<K>) {
    // Only fails once that controller has stopped.
    let _ = to.unbounded_send(object);
}

/// Which themes a room change concerns: their room tallies and whether they
/// may be deleted depend on it.
pub struct ThemeWakeups {
    /// The theme cache, to wake every theme once the room list is complete.
    pub themes: Store<MeetingTheme>,
    /// The theme controller's wake-up stream.
    pub send: UnboundedSender<ObjectRef<MeetingTheme>>,
    /// Set once the room cache holds its first complete list.
    pub rooms_synced: Arc<AtomicBool>,
    /// The themes' budget of status writes (shared with the theme
    /// controller): a theme that has spent it is woken when it refills.
    pub tally_writes: Arc<WriteBudget>,
    /// Themes with a wake-up pending until their budget refills.
    pub deferred: Arc<Mutex<HashSet<ObjectRef<MeetingTheme>>>>,
}

/// Every cached theme at each beginning of a resync cycle, so that each
/// settled theme is read once per cycle (see `Themes::read_due`).
pub fn every_theme_each_cycle(
    themes: Store<MeetingTheme>,
    beginnings: impl Stream<Item = Instant> + Send + 'static,
) -> impl Stream<Item = ObjectRef<MeetingTheme>> + Send + 'static {
    beginnings.flat_map(move |_| {
        let all: Vec<ObjectRef<MeetingTheme>> = themes
            .state()
            .iter()
            .map(|theme| ObjectRef::from(theme.as_ref()))
            .collect();
        futures::stream::iter(all)
    })
}

impl ThemeWakeups {
    /// Wakes the room's theme, and the one it used before when that differs,
    /// when the change alters what the theme reads of the room (see
    /// [`seen_by_theme`]): a room's own status writes wake no theme.
    ///
    /// During a (re)list nothing is woken per room; once the list is complete
    /// `rooms_synced` is set and every theme is woken, since rooms that went
    /// away during a relist leave no event of their own.
    pub fn room_changed(
        &self,
        previous: Option<Arc<MeetingRoom>>,
        event: &watcher::Event<MeetingRoom>,
    ) {
        match event {
            watcher::Event::Apply(room) | watcher::Event::Delete(room) => {
                let unchanged = matches!(event, watcher::Event::Apply(_))
                    && previous
                        .as_deref()
                        .is_some_and(|before| seen_by_theme(before) == seen_by_theme(room));
                if unchanged {
                    return;
                }
                let current = theme_of(room);
                let before = previous.and_then(|room| theme_of(&room));
                if let Some(before) = before.filter(|b| Some(b) != current.as_ref()) {
                    self.wake(before);
                }
                if let Some(theme) = current {
                    self.wake(theme);
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

impl ThemeWakeups {
    /// Wakes `theme` now, or, when a pass could only change its tallies
    /// ([`writes_tallies_only`]) and it has spent its write budget, once the
    /// budget refills: a pass before then could only wait for it (see
    /// `Themes::hold`), and while rooms are being created every one of them
    /// would wake it. One wake-up per theme is pending at a time.
    fn wake(&self, theme: ObjectRef<MeetingTheme>) {
        let wait = self
            .themes
            .get(&theme)
            .filter(|cached| {
                let status = cached.status.as_ref();
                status.is_some_and(|status| writes_tallies_only(cached, status))
            })
            .and_then(|cached| {
                cached
                    .metadata
                    .uid
                    .as_deref()
                    .map(|uid| self.tally_writes.wait(uid))
            })
            .unwrap_or_default();
        if wait.is_zero() {
            send(&self.send, theme);
            return;
        }
        let mut deferred = self.deferred.lock().unwrap_or_else(|e| e.into_inner());
        if !deferred.insert(theme.clone()) {
            return;
        }
        drop(deferred);
        let (to, deferred) = (self.send.clone(), self.deferred.clone());
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            deferred
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&theme);
            send(&to, theme);
        });
    }
}

/// Which rooms a theme change concerns: those using it, unless the change
/// cannot alter their reconcile (see [`theme_matters_to`]).
pub struct RoomWakeups {
    /// The room cache, to find the rooms of a theme.
    pub rooms: Store<MeetingRoom>,
    /// The room controller's wake-up stream.
    pub send: UnboundedSender<ObjectRef<MeetingRoom>>,
}

impl RoomWakeups {
    /// Wakes the rooms that use the theme and need to learn of its change;
    /// all of them when it is gone. A change that leaves what rooms read of
    /// the theme as it was (its room tallies) wakes none.
    pub fn theme_changed(
        &self,
        previous: Option<Arc<MeetingTheme>>,
        event: &watcher::Event<MeetingTheme>,
    ) {
        let (theme, deleted) = match event {
            watcher::Event::Apply(theme) | watcher::Event::InitApply(theme) => (theme, false),
            watcher::Event::Delete(theme) => (theme, true),
            watcher::Event::Init | watcher::Event::InitDone => return,
        };
        if !deleted && previous.is_some_and(|before| seen_by_rooms(&before) == seen_by_rooms(theme))
        {
            return;
        }
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
pub fn theme_of(room: &MeetingRoom) -> Option<ObjectRef<MeetingTheme>> {
    let namespace = room.namespace()?;
    let theme = room.spec.theme_ref.as_ref()?;
    Some(ObjectRef::new(&theme.name).within(&namespace))
}

/// What a theme's reconcile reads of a room: which theme it uses, whether
/// it exists remotely and with which theme, and whether it is being deleted.
fn seen_by_theme(
    room: &MeetingRoom,
) -> (Option<ObjectRef<MeetingTheme>>, bool, Option<&str>, bool) {
    let status = room.status.as_ref();
    (
        theme_of(room),
        status.is_some_and(|s| s.room_id.is_some()),
        status.and_then(|s| s.theme_id.as_deref()),
        room.metadata.deletion_timestamp.is_some(),
    )
}

/// What a room's reconcile reads of its theme: id, readiness, application
/// and deletion.
fn seen_by_rooms(theme: &MeetingTheme) -> (Option<&str>, bool, Option<&str>, bool) {
    let status = theme.status.as_ref();
    (
        status.and_then(|s| s.theme_id.as_deref()),
        status.is_some_and(|s| is_true(&s.conditions, READY)),
        status.and_then(|s| s.application_id.as_deref()),
        theme.metadata.deletion_timestamp.is_some(),
    )
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
            && s.theme_id.as_deref() == theme_status.and_then(|t| t.theme_id.as_deref())
    });
    !(theme_usable && room_settled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use futures::StreamExt;
    use futures::channel::mpsc::{UnboundedReceiver, unbounded};
    use futures::stream;
    use serde_json::json;

    use crate::services::resync_cycle::ResyncCycle;

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
        K: Resource<DynamicType = ()> + HasStatus<Status: ManagedStatus>,
        K: Clone + Send + Sync + 'static,
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
            tally_writes: Arc::new(WriteBudget::new(1, Duration::from_secs(2))),
            deferred: Arc::default(),
        };
        let woken = woken_after_each(
            events,
            move |previous, event| wakeups.room_changed(previous, event),
            receive,
        )
        .await;
        (woken, synced.load(Ordering::Acquire))
    }

    /// Whether each of `events`, run through [`cached`], asks for a reconcile.
    async fn wanted_after_each(events: Vec<watcher::Event<MeetingRoom>>) -> Vec<bool> {
        let (_, writer) = reflector::store::<MeetingRoom>();
        let applied = cached(stream::iter(events.into_iter().map(Ok)), writer, |_, _| {});
        applied
            .map(|applied| applied.expect("event").to_reconcile().is_some())
            .collect()
            .await
    }

    #[tokio::test]
    async fn only_changes_a_reconcile_acts_on_ask_for_one() {
        let plain = room("r", None, None);
        let settled = room("r", None, Some("t"));
        let mut edited = settled.clone();
        edited.metadata.generation = Some(2);
        let wanted = wanted_after_each(vec![
            watcher::Event::Init,
            watcher::Event::InitApply(plain.clone()),
            watcher::Event::InitDone,
            // The operator's own status write.
            watcher::Event::Apply(settled.clone()),
            // A spec change.
            watcher::Event::Apply(edited.clone()),
            // A relist that finds it as it was.
            watcher::Event::Init,
            watcher::Event::InitApply(edited.clone()),
            watcher::Event::InitDone,
            // Deleted, then created again under the same name.
            watcher::Event::Delete(edited),
            watcher::Event::Apply(plain),
        ])
        .await;
        assert_eq!(
            wanted,
            [
                false, true, false, false, true, false, false, false, false, true
            ]
        );
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
                vec![],
                vec!["a", "b"],
                vec!["b"],
                vec!["a"],
                vec!["a"],
            ]
        );
        assert!(!synced, "only a complete list marks the cache synced");
    }

    #[tokio::test(start_paused = true)]
    async fn a_theme_that_spent_its_write_budget_is_woken_once_when_it_refills() {
        let (themes, mut theme_writer) = reflector::store::<MeetingTheme>();
        let mut spent = theme("a", Some("id-a"));
        spent.metadata.uid = Some("uid-a".into());
        theme_writer.apply_watcher_event(&watcher::Event::Apply(spent));
        theme_writer.apply_watcher_event(&watcher::Event::Apply(theme("b", Some("id-b"))));
        // Spent too, but not Ready: its pass may do more than count rooms.
        let mut creating = theme("c", None);
        creating.metadata.uid = Some("uid-c".into());
        theme_writer.apply_watcher_event(&watcher::Event::Apply(creating));
        let budget = Arc::new(WriteBudget::new(1, Duration::from_secs(2)));
        budget.spend("uid-a");
        budget.spend("uid-c");
        let (send, mut woken) = unbounded();
        let wakeups = ThemeWakeups {
            themes,
            send,
            rooms_synced: Arc::default(),
            tally_writes: budget,
            deferred: Arc::default(),
        };
        for name in ["r1", "r2", "r3"] {
            wakeups.room_changed(None, &watcher::Event::Apply(room(name, Some("a"), None)));
        }
        wakeups.room_changed(None, &watcher::Event::Apply(room("r4", Some("b"), None)));
        wakeups.room_changed(None, &watcher::Event::Apply(room("r5", Some("c"), None)));
        let now: Vec<String> = std::iter::from_fn(|| woken.try_recv().ok())
            .map(|theme| theme.name)
            .collect();
        assert_eq!(
            now,
            ["b", "c"],
            "budget left, or more to do than tallies: at once"
        );
        tokio::time::sleep(Duration::from_millis(1900)).await;
        assert!(
            woken.try_recv().is_err(),
            "nothing before the budget refills"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let later: Vec<String> = std::iter::from_fn(|| woken.try_recv().ok())
            .map(|theme| theme.name)
            .collect();
        assert_eq!(later, ["a"], "three room changes, one wake-up");
        // The budget is read from the wall clock, which a paused test does
        // not move: the theme is still waiting, and a new change is
        // deferred again rather than dropped.
        wakeups.room_changed(None, &watcher::Event::Apply(room("r6", Some("a"), None)));
        assert!(woken.try_recv().is_err());
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(
            woken.try_recv().map(|theme| theme.name).ok().as_deref(),
            Some("a")
        );
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
        deleting.metadata.deletion_timestamp = Some(crate::crd::conditions::now());
        let mut tallied = theme("a", Some("id-2"));
        if let Some(status) = tallied.status.as_mut() {
            status.room_count = Some(3);
            status.rooms = vec!["settled".into()];
        }
        let woken = woken_after_each(
            vec![
                watcher::Event::Apply(theme("a", None)),
                watcher::Event::Apply(theme("a", Some("id-1"))),
                watcher::Event::Apply(theme("a", Some("id-2"))),
                watcher::Event::Apply(tallied),
                watcher::Event::Apply(deleting),
                watcher::Event::Delete(theme("a", Some("id-1"))),
            ],
            move |previous, event| wakeups.theme_changed(previous, event),
            receive,
        )
        .await;
        assert_eq!(
            woken,
            [
                vec!["settled", "waiting"],
                vec!["waiting"],
                vec!["settled", "waiting"],
                vec![],
                vec!["settled", "waiting"],
                vec!["settled", "waiting"],
            ]
        );
    }

    #[test]
    fn status_writes_are_not_wanted_changes_and_spec_or_metadata_changes_are() {
        let before = room("r", Some("a"), None);
        let mut status_only = before.clone();
        status_only.status = Some(crate::crd::MeetingRoomStatus {
            room_id: Some("id-9".into()),
            ..Default::default()
        });
        assert_eq!(wanted_change(&before), wanted_change(&status_only));
        let mut changes = Vec::new();
        let mut spec = before.clone();
        spec.metadata.generation = Some(2);
        changes.push(spec);
        let mut annotated = before.clone();
        annotated.metadata.annotations =
            Some([("meetings.vonage.com/paused".to_owned(), "true".to_owned())].into());
        changes.push(annotated);
        let mut finalized = before.clone();
        finalized.metadata.finalizers = Some(vec![crate::crd::FINALIZER.to_owned()]);
        changes.push(finalized);
        let mut deleting = before.clone();
        deleting.metadata.deletion_timestamp = Some(crate::crd::conditions::now());
        changes.push(deleting);
        for changed in changes {
            assert_ne!(
                wanted_change(&before),
                wanted_change(&changed),
                "{:?}",
                changed.metadata
            );
        }
    }

    #[test]
    fn a_cached_object_keeps_no_managed_fields_nor_spare_list_room() {
        // Decoded from text, as a watch decodes it: a list of unknown length
        // is grown as it is read, two conditions into room for four.
        let text = json!({
            "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
            "metadata": {"name": "r", "namespace": "ns", "finalizers": ["f"],
                         "managedFields": [{"manager": "m", "operation": "Apply"}],
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"displayName": "R", "type": "instant"},
            "status": {"conditions": [ready(), {"type": "Synced", "status": "True",
                "reason": "Synced", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
        })
        .to_string();
        let mut room: MeetingRoom = serde_json::from_str(&text).unwrap();
        let conditions = |room: &MeetingRoom| {
            let conditions = &room.status.as_ref().unwrap().conditions;
            (conditions.len(), conditions.capacity())
        };
        let (length, capacity) = conditions(&room);
        assert!(capacity > length, "decoded with room to spare: {capacity}");
        prune_cached(&mut room);
        assert_eq!(conditions(&room), (2, 2));
        let finalizers = room.metadata.finalizers.as_ref().unwrap();
        assert_eq!(finalizers.len(), finalizers.capacity());
        assert!(room.metadata.managed_fields.is_none());
        assert_eq!(room.metadata.annotations.as_ref().map(|a| a.len()), Some(0));
    }

    #[tokio::test(start_paused = true)]
    async fn every_cached_theme_is_woken_at_each_beginning_of_a_cycle() {
        let (themes, mut theme_writer) = reflector::store::<MeetingTheme>();
        theme_writer.apply_watcher_event(&watcher::Event::Apply(theme("a", None)));
        let cycle = ResyncCycle::default();
        let mut woken = std::pin::pin!(every_theme_each_cycle(themes, cycle.beginnings()));
        cycle.begin();
        assert_eq!(woken.next().await.map(|t| t.name), Some("a".to_owned()));
        theme_writer.apply_watcher_event(&watcher::Event::Apply(theme("b", None)));
        cycle.begin();
        let mut names = vec![
            woken.next().await.unwrap().name,
            woken.next().await.unwrap().name,
        ];
        names.sort();
        assert_eq!(names, ["a", "b"], "the themes cached when the cycle began");
        let more = tokio::time::timeout(Duration::from_secs(60), woken.next()).await;
        assert!(more.is_err(), "nothing until the next beginning");
    }
}
