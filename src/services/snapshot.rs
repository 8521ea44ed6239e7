//! A shared, page-by-page snapshot of each application's remote rooms.
//!
//! Observing rooms one GET at a time costs one call per room per resync; one
//! listing costs `ceil(rooms / page size)` calls and answers every reconcile of
//! that application until it is older than the allowed age. Concurrent
//! reconciles that find the snapshot stale wait for one refresh instead of
//! each listing again; while a listing is being read, it answers for the
//! rooms it has read and parks the reader of any other until its page is
//! read. Rooms this operator created or changed since the listing are kept
//! in an overlay, so its own writes never force a re-read.
//!
//! Host URLs are credentials, re-issued on every read: the snapshot keeps
//! none. The rare reconcile that needs one (its Secret is gone) reads the room.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt;

use crate::meetings::{ApiError, MeetingsClient, Priority, Room, RoomScope};

/// Rooms by id from one listing.
type Listing = Arc<RoomsById>;

/// A room in a [`RoomsById`]: equal to, and found by, its id.
struct ById(Arc<Room>);

impl PartialEq for ById {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for ById {}

impl Hash for ById {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `str` hashes, so that a lookup by `&str` finds it.
        self.0.id.as_str().hash(state);
    }
}

impl Borrow<str> for ById {
    fn borrow(&self) -> &str {
        &self.0.id
    }
}

/// Rooms found by id, each id kept once: in its room (a map keyed by a copy
/// of the id took 70 bytes more per room).
#[derive(Default)]
struct RoomsById(HashSet<ById>);

impl RoomsById {
    fn get(&self, room_id: &str) -> Option<&Arc<Room>> {
        self.0.get(room_id).map(|listed| &listed.0)
    }

    /// Adds `room`, or replaces the room with its id.
    fn insert(&mut self, room: Arc<Room>) {
        self.0.replace(ById(room));
    }

    fn iter(&self) -> impl Iterator<Item = &Arc<Room>> {
        self.0.iter().map(|listed| &listed.0)
    }
}

/// Runs once the room a reader parked for is read, or its listing ends.
type Wake = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Slot {
    listing: Option<(Instant, Listing)>,
    /// Rooms this operator wrote, with when (each id kept once, in its room).
    overlay: HashMap<ById, Instant>,
    refresh: Arc<tokio::sync::Mutex<()>>,
    /// The listing being read: when it started and the rooms read so far.
    reading: Option<(Instant, RoomsById)>,
    /// Readers waiting for a room of `reading` that is not read yet, by room id.
    parked: HashMap<String, Vec<Wake>>,
}

/// Ends a slot's `reading` however its listing ends (done, failed or
/// dropped) and wakes the readers still parked, so that none waits for a
/// listing nobody reads.
struct Reading<'a> {
    snapshots: &'a RoomSnapshots,
    app: &'a str,
}

impl Reading<'_> {
    /// Adds rooms read to the slot's `reading` and wakes their parked readers.
    /// A room read as this operator last wrote it shares the overlay's copy:
    /// after a convergence the overlay holds every room created, and the
    /// first listing reads them all again before it replaces the overlay.
    fn read(&self, rooms: impl IntoIterator<Item = Arc<Room>>) {
        let woken: Vec<Wake> = {
            let mut slots = self.snapshots.lock();
            let Some(slot) = slots.get_mut(self.app) else {
                return;
            };
            let Slot {
                reading: Some((_, reading)),
                overlay,
                parked,
                ..
            } = slot
            else {
                return;
            };
            let mut woken = Vec::new();
            for room in rooms {
                woken.extend(parked.remove(&room.id).unwrap_or_default());
                let room = match overlay.get_key_value(room.id.as_str()) {
                    Some((written, _)) if written.0 == room => written.0.clone(),
                    _ => room,
                };
                reading.insert(room);
            }
            woken
        };
        woken.into_iter().for_each(|wake| wake());
    }

    /// The rooms read, the slot's `reading` ended.
    fn take(&self) -> RoomsById {
        let mut slots = self.snapshots.lock();
        let Some(slot) = slots.get_mut(self.app) else {
            return RoomsById::default();
        };
        slot.reading
            .take()
            .map(|(_, rooms)| rooms)
            .unwrap_or_default()
    }
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        let woken = {
            let mut slots = self.snapshots.lock();
            let Some(slot) = slots.get_mut(self.app) else {
                return;
            };
            slot.reading = None;
            std::mem::take(&mut slot.parked)
        };
        woken.into_values().flatten().for_each(|wake| wake());
    }
}

impl Slot {
    /// While a listing that satisfies `freshness` is being read: the room
    /// with `room_id` if written or read already, `None` if not read yet.
    /// `None` outside when no such listing is being read.
    fn while_reading(&self, room_id: &str, freshness: Freshness) -> Option<Option<Arc<Room>>> {
        let (started, reading) = self.reading.as_ref()?;
        if !freshness.accepts(*started) {
            return None;
        }
        Some(self.get(room_id, reading).cloned())
    }

    /// The room with `room_id` as last written, or else as `listed`.
    fn get<'a>(&'a self, room_id: &str, listed: &'a RoomsById) -> Option<&'a Arc<Room>> {
        self.overlay
            .get_key_value(room_id)
            .map(|(written, _)| &written.0)
            .or_else(|| listed.get(room_id))
    }

    /// The slot's listing, newer than or the same as `validated` (a caller's
    /// fresh listing) and the one its overlay was pruned for; `validated`
    /// while a refresh is under way, when the overlay still holds every
    /// write since `validated` was taken.
    fn current_or<'a>(&'a self, validated: &'a Listing) -> &'a Listing {
        self.listing.as_ref().map_or(validated, |(_, rooms)| rooms)
    }
}

/// How a listing answers for one room.
#[derive(Debug)]
pub enum Listed {
    /// The room as last listed or written.
    Room(Arc<Room>),
    /// The listing does not contain it.
    Absent,
    /// A listing being read has not reached it yet: the reader's `wake`
    /// runs when it has, or when that listing ends.
    Parked,
}

/// Snapshots of remote rooms per application id.
#[derive(Default)]
pub struct RoomSnapshots {
    slots: Mutex<HashMap<String, Slot>>,
}

/// One application's rooms: a listing and the writes recorded since.
pub struct View {
    listing: Listing,
    overlay: RoomsById,
}

impl View {
    /// The room with `room_id`, as last written or listed.
    pub fn get(&self, room_id: &str) -> Option<&Room> {
        self.overlay
            .get(room_id)
            .or_else(|| self.listing.get(room_id))
            .map(Arc::as_ref)
    }
}

/// `room` without its host URL.
fn without_host_url(mut room: Room) -> Room {
    room.links.host_url = None;
    room
}

/// How old a snapshot may be for one question.
#[derive(Clone, Copy, Debug)]
pub struct Freshness {
    /// Oldest acceptable listing.
    pub max_age: Duration,
    /// The listing must have started after this moment, when set.
    pub not_before: Option<Instant>,
}

impl Freshness {
    /// Whether a listing that started at `started` answers.
    fn accepts(&self, started: Instant) -> bool {
        started.elapsed() <= self.max_age && self.not_before.is_none_or(|t| started >= t)
    }
}

impl RoomSnapshots {
    /// The room with `room_id` as last listed or written, from a listing that
    /// satisfies `freshness`. While such a listing is being read, it answers
    /// for the rooms it has read and parks the reader of any other: `wake`
    /// runs when that room's page is read (at start-up a reconcile need not
    /// hold its slot while the pages before its room are read).
    pub async fn room(
        &self,
        client: &MeetingsClient,
        room_id: &str,
        freshness: Freshness,
        wake: impl FnOnce() + Send + 'static,
    ) -> Result<Listed, ApiError> {
        let found = |room: Option<&Arc<Room>>| room.cloned().map_or(Listed::Absent, Listed::Room);
        {
            let mut slots = self.lock();
            if let Some(slot) = slots.get_mut(client.application_id())
                && let Some(read) = slot.while_reading(room_id, freshness)
            {
                return Ok(match read {
                    Some(room) => Listed::Room(room),
                    None => {
                        let parked = slot.parked.entry(room_id.to_owned()).or_default();
                        parked.push(Box::new(wake));
                        Listed::Parked
                    }
                });
            }
        }
        let validated = self
            .ensure_fresh(client, freshness, Priority::Foreground)
            .await?;
        let slots = self.lock();
        let Some(slot) = slots.get(client.application_id()) else {
            return Ok(found(validated.get(room_id)));
        };
        Ok(found(slot.get(room_id, slot.current_or(&validated))))
    }

    /// Every room of the application matching `predicate`, from a listing
    /// that satisfies `freshness`.
    pub async fn find(
        &self,
        client: &MeetingsClient,
        freshness: Freshness,
        predicate: impl Fn(&Room) -> bool,
    ) -> Result<Vec<Arc<Room>>, ApiError> {
        let mut found = Vec::new();
        self.each_matching(client, freshness, predicate, |room| {
            found.push(room.clone());
        })
        .await?;
        Ok(found)
    }

    /// How many rooms of the application match `predicate`, from a listing
    /// that satisfies `freshness`; no room is copied.
    pub async fn count(
        &self,
        client: &MeetingsClient,
        freshness: Freshness,
        predicate: impl Fn(&Room) -> bool,
    ) -> Result<usize, ApiError> {
        let mut count = 0;
        self.each_matching(client, freshness, predicate, |_| count += 1)
            .await?;
        Ok(count)
    }

    /// Hands `visit` every room of the application matching `predicate`,
    /// once each and as last written or listed, from a listing that
    /// satisfies `freshness`. A listed room is looked up among the recorded
    /// writes only once it matches.
    async fn each_matching(
        &self,
        client: &MeetingsClient,
        freshness: Freshness,
        predicate: impl Fn(&Room) -> bool,
        mut visit: impl FnMut(&Arc<Room>),
    ) -> Result<(), ApiError> {
        let validated = self
            .ensure_fresh(client, freshness, Priority::Foreground)
            .await?;
        let slots = self.lock();
        let Some(slot) = slots.get(client.application_id()) else {
            validated
                .iter()
                .filter(|room| predicate(room))
                .for_each(visit);
            return Ok(());
        };
        slot.current_or(&validated)
            .iter()
            .filter(|room| predicate(room) && !slot.overlay.contains_key(room.id.as_str()))
            .for_each(&mut visit);
        slot.overlay
            .keys()
            .map(|ById(room)| room)
            .filter(|room| predicate(room))
            .for_each(visit);
        Ok(())
    }

    /// Every room of the application, as [`Self::room`] answers for each,
    /// from a listing that satisfies `freshness`; a listing read now requests
    /// its pages at `priority`.
    pub async fn view(
        &self,
        client: &MeetingsClient,
        freshness: Freshness,
        priority: Priority,
    ) -> Result<View, ApiError> {
        let validated = self.ensure_fresh(client, freshness, priority).await?;
        let slots = self.lock();
        let Some(slot) = slots.get(client.application_id()) else {
            return Ok(View {
                listing: validated,
                overlay: RoomsById::default(),
            });
        };
        Ok(View {
            listing: slot.current_or(&validated).clone(),
            overlay: RoomsById(
                slot.overlay
                    .keys()
                    .map(|written| ById(written.0.clone()))
                    .collect(),
            ),
        })
    }

    /// Records a room this operator just created, changed or read.
    pub fn record(&self, application_id: &str, room: Room) {
        let mut slots = self.lock();
        let slot = slots.entry(application_id.to_owned()).or_default();
        let written = ById(Arc::new(without_host_url(room)));
        // A map keeps the key it holds: the room written before goes first.
        slot.overlay.remove(written.0.id.as_str());
        slot.overlay.insert(written, Instant::now());
    }

    /// A listing that satisfies `freshness`, read now unless one is held.
    async fn ensure_fresh(
        &self,
        client: &MeetingsClient,
        freshness: Freshness,
        priority: Priority,
    ) -> Result<Listing, ApiError> {
        let app = client.application_id().to_owned();
        let fresh_listing = |slot: &Slot| {
            slot.listing
                .as_ref()
                .filter(|(taken_at, _)| freshness.accepts(*taken_at))
                .map(|(_, rooms)| rooms.clone())
        };
        let refresh = {
            let mut slots = self.lock();
            let slot = slots.entry(app.clone()).or_default();
            if let Some(listing) = fresh_listing(slot) {
                return Ok(listing);
            }
            slot.refresh.clone()
        };
        let _single_flight = refresh.lock().await;
        {
            let mut slots = self.lock();
            if let Some(listing) = slots.get(&app).and_then(fresh_listing) {
                return Ok(listing);
            }
            // Stale for this caller: let it go before the new listing is
            // read, so that two listings (10,000 rooms each) are never held
            // at once. Readers holding it keep their copy (see `current_or`).
            if let Some(slot) = slots.get_mut(&app) {
                slot.listing = None;
            }
        }
        let started = Instant::now();
        if let Some(slot) = self.lock().get_mut(&app) {
            slot.reading = Some((started, RoomsById::default()));
        }
        let reading = Reading {
            snapshots: self,
            app: &app,
        };
        let mut rooms = std::pin::pin!(
            client
                .rooms_at(RoomScope::All, priority)
                .map_ok(|room| Arc::new(without_host_url(room)))
                .try_chunks(usize::try_from(client.page_size()).unwrap_or(100).max(1))
        );
        while let Some(page) = rooms.try_next().await.map_err(|e| e.1)? {
            reading.read(page);
        }
        let listing = Arc::new(reading.take());
        {
            let mut slots = self.lock();
            let slot = slots.entry(app.clone()).or_default();
            slot.listing = Some((started, listing.clone()));
            // Keep writes recorded while the listing was running: it may predate them.
            slot.overlay
                .retain(|_, recorded_at| *recorded_at >= started);
        }
        // Readers still parked find the listing in place when woken.
        drop(reading);
        Ok(listing)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    //! The freshness and overlay rules against the simulator's API, with the
    //! slot's private state used only to age a listing, to see whether a
    //! refresh is under way, and to reproduce the window 7b4848b closed.

    use std::future::Future;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Wake, Waker};

    use meetings_simulator::{AppCredentials, FaultKind, FaultSpec, RunningSimulator, Simulator};

    use super::*;
    use crate::meetings::{ClientConfig, CreateRoom, Credentials};

    /// A question content with any listing of the last five minutes.
    const LAX: Freshness = Freshness {
        max_age: Duration::from_secs(300),
        not_before: None,
    };
    /// Older than [`LAX`] accepts.
    const TEN_MINUTES: Duration = Duration::from_secs(600);

    fn client(sim: &RunningSimulator, app: &AppCredentials) -> MeetingsClient {
        client_paging(sim, app, ClientConfig::default().page_size)
    }

    /// [`client`] with `page_size` rooms per page.
    fn client_paging(
        sim: &RunningSimulator,
        app: &AppCredentials,
        page_size: u32,
    ) -> MeetingsClient {
        let config = ClientConfig {
            request_timeout: Duration::from_secs(10),
            page_size,
            ..ClientConfig::unlimited_single_attempt(sim.base_url())
        };
        let credentials = Credentials::new(&app.application_id, app.private_key_pem.as_bytes())
            .expect("simulator credentials");
        MeetingsClient::new(config, credentials).expect("client")
    }

    struct World {
        sim: RunningSimulator,
        client: MeetingsClient,
        snapshots: Arc<RoomSnapshots>,
    }

    impl World {
        async fn start() -> Self {
            let sim = Simulator::builder().start().await.expect("simulator");
            let app = sim.default_application().expect("default application");
            let client = client(&sim, &app);
            Self {
                sim,
                client,
                snapshots: Arc::default(),
            }
        }

        fn app(&self) -> &str {
            self.client.application_id()
        }

        /// Pages of `getRooms` served so far (one per listing: every test
        /// stays under one page).
        fn listings(&self) -> u64 {
            self.sim.counters().operation("getRooms")
        }

        /// A room created through the API, not recorded in the snapshot.
        async fn create(&self, name: &str) -> Room {
            self.client
                .create_room(&CreateRoom {
                    display_name: name.into(),
                    ..CreateRoom::default()
                })
                .await
                .expect("create room")
        }

        async fn room(&self, id: &str, freshness: Freshness) -> Option<Arc<Room>> {
            read_room(&self.snapshots, &self.client, id, freshness).await
        }

        /// Display names of every room `find` answers, sorted.
        async fn names(&self, freshness: Freshness) -> Vec<String> {
            let mut names: Vec<String> = self
                .snapshots
                .find(&self.client, freshness, |_| true)
                .await
                .expect("snapshot find")
                .iter()
                .map(|room| room.display_name.clone())
                .collect();
            names.sort();
            names
        }

        /// Makes the held listing look `by` older than it is.
        fn age_listing(&self, by: Duration) {
            let mut slots = self.snapshots.lock();
            let (taken_at, _) = slots
                .get_mut(self.app())
                .and_then(|slot| slot.listing.as_mut())
                .expect("a held listing");
            *taken_at = taken_at.checked_sub(by).expect("uptime above the age");
        }

        fn holds_listing(&self) -> bool {
            self.snapshots
                .lock()
                .get(self.app())
                .is_some_and(|slot| slot.listing.is_some())
        }

        fn overlay_ids(&self) -> Vec<String> {
            let slots = self.snapshots.lock();
            let mut ids: Vec<String> = slots
                .get(self.app())
                .map(|slot| {
                    slot.overlay
                        .keys()
                        .map(|written| written.0.id.clone())
                        .collect()
                })
                .unwrap_or_default();
            ids.sort();
            ids
        }

        fn refresh_lock(&self) -> Arc<tokio::sync::Mutex<()>> {
            self.snapshots
                .lock()
                .entry(self.app().to_owned())
                .or_default()
                .refresh
                .clone()
        }

        /// Waits until some task holds the refresh lock (is listing). On the
        /// tests' single-threaded runtime that task has then also dropped the
        /// stale listing and noted when its listing started: all of that
        /// happens in the poll that took the lock.
        async fn refresh_under_way(&self) {
            let refresh = self.refresh_lock();
            for _ in 0..500 {
                if refresh.try_lock().is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            panic!("no refresh started");
        }

        /// Every `getRooms` waits `ms` before it is answered.
        fn slow_listings(&self, ms: u64) {
            self.sim.faults().add(FaultSpec::new(
                "getRooms",
                FaultKind::Latency {
                    fixed_ms: ms,
                    jitter_ms: 0,
                },
            ));
        }
    }

    /// The room as a reconcile ends up seeing it: asked again each time its
    /// parked question is woken.
    async fn read_room(
        snapshots: &RoomSnapshots,
        client: &MeetingsClient,
        id: &str,
        freshness: Freshness,
    ) -> Option<Arc<Room>> {
        loop {
            let (wake, woken) = tokio::sync::oneshot::channel();
            let answer = snapshots.room(client, id, freshness, move || {
                let _ = wake.send(());
            });
            match answer.await.expect("snapshot room") {
                Listed::Parked => woken.await.expect("a parked reader is woken"),
                answer => return listed(answer),
            }
        }
    }

    /// The room of an answer that is not [`Listed::Parked`].
    fn listed(answer: Listed) -> Option<Arc<Room>> {
        match answer {
            Listed::Room(room) => Some(room),
            Listed::Absent => None,
            Listed::Parked => panic!("parked outside a listing being read"),
        }
    }

    /// A room only this operator knows of (never on the API).
    fn written(id: &str) -> Room {
        Room {
            id: id.into(),
            display_name: id.into(),
            ..Room::default()
        }
    }

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut names: Vec<String> = names.iter().map(|&n| n.to_owned()).collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn a_fresh_listing_answers_without_another_call() {
        let w = World::start().await;
        let a = w.create("a").await;
        let b = w.create("b").await;

        assert_eq!(
            w.room(&a.id, LAX).await.expect("a listed").display_name,
            "a"
        );
        assert_eq!(w.listings(), 1);
        assert_eq!(
            w.room(&b.id, LAX).await.expect("b listed").display_name,
            "b"
        );
        assert_eq!(w.names(LAX).await, sorted(&["a", "b"]));
        let only_b = w
            .snapshots
            .find(&w.client, LAX, |room| room.display_name == "b")
            .await
            .expect("find");
        assert_eq!(only_b.len(), 1);
        assert_eq!(only_b[0].id, b.id);
        assert_eq!(w.listings(), 1, "every answer came from the one listing");

        // `None` means "not in a listing fresh enough": a room created on the
        // API behind the operator's back is not seen until the next listing.
        let unseen = w.create("unseen").await;
        assert!(w.room(&unseen.id, LAX).await.is_none());
        assert!(w.room("no-such-room", LAX).await.is_none());
        assert_eq!(w.listings(), 1);
    }

    #[tokio::test]
    async fn a_listing_older_than_max_age_is_read_again_once() {
        let w = World::start().await;
        w.create("a").await;
        assert_eq!(w.names(LAX).await, sorted(&["a"]));
        let b = w.create("b").await;
        w.age_listing(TEN_MINUTES);

        // Ten minutes old is still fresh for a question allowing fifteen.
        let patient = Freshness {
            max_age: Duration::from_secs(900),
            not_before: None,
        };
        assert!(w.room(&b.id, patient).await.is_none());
        assert_eq!(w.listings(), 1);

        // ... and stale for one allowing five: one refresh, which sees `b`.
        assert_eq!(
            w.room(&b.id, LAX).await.expect("b listed").display_name,
            "b"
        );
        assert_eq!(w.listings(), 2);
        assert_eq!(w.names(LAX).await, sorted(&["a", "b"]));
        assert_eq!(w.listings(), 2, "the new listing is fresh again");
    }

    #[tokio::test]
    async fn not_before_asks_for_a_listing_started_after_it() {
        let w = World::start().await;
        let before_first = Instant::now();
        w.create("a").await;
        assert_eq!(w.names(LAX).await, sorted(&["a"]));

        let t = Instant::now();
        let b = w.create("b").await;
        let after_t = Freshness {
            max_age: Duration::from_secs(3600),
            not_before: Some(t),
        };
        let after_start = Freshness {
            not_before: Some(before_first),
            ..after_t
        };
        assert!(w.room(&b.id, after_start).await.is_none());
        assert_eq!(w.listings(), 1, "the listing started after `before_first`");

        assert!(w.room(&b.id, after_t).await.is_some());
        assert_eq!(w.listings(), 2, "the listing started before `t`");
        assert!(w.room(&b.id, after_t).await.is_some());
        assert_eq!(w.listings(), 2, "the new listing started after `t`");
    }

    #[tokio::test]
    async fn a_listing_shares_the_copy_of_a_room_written_as_it_reads_it() {
        let w = World::start().await;
        let created = w.create("a").await;
        let changed_since = w.create("b").await;
        w.snapshots.record(w.app(), created.clone());
        w.snapshots.record(w.app(), changed_since.clone());
        let mut renamed = changed_since.clone();
        renamed.display_name = "b, renamed by hand".into();
        w.snapshots.record(w.app(), renamed);
        let written = |id: &str| {
            let slots = w.snapshots.lock();
            slots
                .get(w.app())
                .unwrap()
                .overlay
                .get_key_value(id)
                .unwrap()
                .0
                .0
                .clone()
        };
        let (a, b) = (written(&created.id), written(&changed_since.id));
        let after_now = Freshness {
            max_age: Duration::from_secs(3600),
            not_before: Some(Instant::now()),
        };
        let listed_a = w.room(&created.id, after_now).await.expect("listed");
        let listed_b = w.room(&changed_since.id, after_now).await.expect("listed");
        assert_eq!(w.listings(), 1);
        assert!(Arc::ptr_eq(&listed_a, &a), "read as written: one copy");
        assert!(!Arc::ptr_eq(&listed_b, &b), "read otherwise: the listing's");
        assert_eq!(listed_b.display_name, "b");
    }

    #[tokio::test]
    async fn not_before_counts_from_when_a_listing_started() {
        let w = World::start().await;
        let a = w.create("a").await;
        w.slow_listings(300);
        let first = {
            let snapshots = w.snapshots.clone();
            let client = w.client.clone();
            tokio::spawn(async move { snapshots.room(&client, &a.id, LAX, || {}).await })
        };
        w.refresh_under_way().await;

        // A listing under way when `t` is taken may have been read before
        // whatever happened at `t`: the reader waits for it, rejects it, and
        // lists again.
        let t = Instant::now();
        let b = w.create("b").await;
        let after_t = Freshness {
            max_age: Duration::from_secs(3600),
            not_before: Some(t),
        };
        assert!(w.room(&b.id, after_t).await.is_some());
        let first = first.await.expect("join").expect("listing");
        assert!(listed(first).is_some());
        assert_eq!(w.listings(), 2);
    }

    /// A wake that reports `name` and when it ran on `woken`.
    fn wake_as(
        name: &'static str,
        started: Instant,
        woken: &tokio::sync::mpsc::UnboundedSender<(&'static str, Duration)>,
    ) -> impl FnOnce() + Send + 'static {
        let woken = woken.clone();
        move || {
            let _ = woken.send((name, started.elapsed()));
        }
    }

    #[tokio::test]
    async fn a_listing_being_read_answers_for_rooms_read_and_parks_the_rest() {
        let sim = Simulator::builder().start().await.expect("simulator");
        let app = sim.default_application().expect("default application");
        let client = client_paging(&sim, &app, 2);
        let mut ids = Vec::new();
        for name in ["a", "b", "c", "d", "e", "f"] {
            let room = client
                .create_room(&CreateRoom {
                    display_name: name.into(),
                    ..CreateRoom::default()
                })
                .await
                .expect("create room");
            ids.push(room.id);
        }
        // Three pages of 300 ms each.
        sim.faults().add(FaultSpec::new(
            "getRooms",
            FaultKind::Latency {
                fixed_ms: 300,
                jitter_ms: 0,
            },
        ));
        let snapshots = Arc::new(RoomSnapshots::default());
        let started = Instant::now();
        let listing = {
            let (snapshots, client) = (snapshots.clone(), client.clone());
            tokio::spawn(async move {
                snapshots
                    .view(&client, LAX, Priority::Foreground)
                    .await
                    .map(|view| view.get("none").is_none())
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Nothing is read yet: every reader parks and returns at once.
        let (woken, mut wakes) = tokio::sync::mpsc::unbounded_channel();
        for (id, name) in [
            (&ids[0], "first"),
            (&ids[5], "last"),
            (&"absent".into(), "absent"),
        ] {
            let answer = snapshots.room(&client, id, LAX, wake_as(name, started, &woken));
            assert!(matches!(answer.await.expect("room"), Listed::Parked));
        }
        assert!(started.elapsed() < Duration::from_millis(250));
        // The first page wakes the first page's reader, which is then answered
        // from the listing being read.
        let (name, at) = wakes.recv().await.expect("a wake");
        assert_eq!(name, "first");
        assert!(
            at < Duration::from_millis(550),
            "woken after the first page: {at:?}"
        );
        let first = snapshots.room(&client, &ids[0], LAX, || panic!("parked"));
        let first = listed(first.await.expect("room")).expect("listed");
        assert_eq!(first.display_name, "a");
        // The last page's reader, and the reader of a room on no page, once
        // the listing is done; the listing then answers both.
        let mut rest = [wakes.recv().await, wakes.recv().await].map(|w| w.expect("a wake"));
        rest.sort();
        assert_eq!(rest.map(|(name, _)| name), ["absent", "last"]);
        assert!(rest.iter().all(|(_, at)| *at >= Duration::from_millis(850)));
        assert!(listing.await.expect("join").expect("listing"));
        let last = snapshots.room(&client, &ids[5], LAX, || panic!("parked"));
        let last = listed(last.await.expect("room")).expect("listed");
        assert_eq!(last.display_name, "f");
        let absent = snapshots.room(&client, "absent", LAX, || panic!("parked"));
        assert!(matches!(absent.await.expect("room"), Listed::Absent));
        assert_eq!(sim.counters().operation("getRooms"), 3, "one listing");
        assert!(wakes.try_recv().is_err(), "each reader woken once");
    }

    #[tokio::test]
    async fn readers_parked_on_a_listing_that_ends_midway_are_woken() {
        let w = World::start().await;
        let a = w.create("a").await;
        w.slow_listings(200);
        let listing = {
            let (snapshots, client) = (w.snapshots.clone(), w.client.clone());
            tokio::spawn(async move { snapshots.view(&client, LAX, Priority::Foreground).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (woken, mut wakes) = tokio::sync::mpsc::unbounded_channel();
        let answer = w
            .snapshots
            .room(&w.client, &a.id, LAX, wake_as("a", Instant::now(), &woken));
        assert!(matches!(answer.await.expect("room"), Listed::Parked));
        // The listing is dropped mid-read: its parked reader is woken and
        // then lists for itself.
        listing.abort();
        let wake = tokio::time::timeout(Duration::from_secs(5), wakes.recv()).await;
        assert_eq!(wake.expect("woken").expect("a wake").0, "a");
        assert!(w.room(&a.id, LAX).await.is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_stale_readers_share_one_refresh() {
        let w = World::start().await;
        let a = w.create("a").await;
        w.slow_listings(50);

        // No listing yet: twenty questions at once, one listing.
        let answers = futures::future::join_all((0..20).map(|_| w.room(&a.id, LAX))).await;
        assert!(answers.iter().all(Option::is_some));
        assert_eq!(w.listings(), 1);

        // A stale listing: twenty questions at once, one refresh.
        w.age_listing(TEN_MINUTES);
        let (w_ref, id) = (&w, a.id.as_str());
        let answers = futures::future::join_all((0..20).map(|i| async move {
            if i % 2 == 0 {
                w_ref.room(id, LAX).await.is_some()
            } else {
                w_ref.names(LAX).await == sorted(&["a"])
            }
        }))
        .await;
        assert!(answers.into_iter().all(|found| found));
        assert_eq!(w.listings(), 2);

        // The same across threads, all asking for a listing newer than `t`.
        let t = Instant::now();
        let after_t = Freshness {
            max_age: Duration::from_secs(3600),
            not_before: Some(t),
        };
        let readers: Vec<_> = (0..20)
            .map(|_| {
                let snapshots = w.snapshots.clone();
                let client = w.client.clone();
                let id = a.id.clone();
                tokio::spawn(async move { read_room(&snapshots, &client, &id, after_t).await })
            })
            .collect();
        for reader in readers {
            assert!(reader.await.expect("join").is_some());
        }
        assert_eq!(w.listings(), 3);
    }

    #[tokio::test]
    async fn a_recorded_room_is_seen_until_a_listing_includes_it() {
        let w = World::start().await;
        let a = w.create("a").await;
        assert_eq!(w.names(LAX).await, sorted(&["a"]));

        // The operator's own writes after the listing: a new room and a rename.
        let b = w.create("b").await;
        w.snapshots.record(w.app(), b.clone());
        w.snapshots.record(
            w.app(),
            Room {
                display_name: "a renamed".into(),
                ..a.clone()
            },
        );
        assert_eq!(
            w.room(&b.id, LAX).await.expect("b recorded").display_name,
            "b"
        );
        assert_eq!(
            w.room(&a.id, LAX).await.expect("a recorded").display_name,
            "a renamed",
            "the recorded write wins over the listing"
        );
        assert_eq!(
            w.names(LAX).await,
            sorted(&["a renamed", "b"]),
            "find answers each room once, as last written"
        );
        let renamed = w
            .snapshots
            .find(&w.client, LAX, |room| room.display_name == "a")
            .await
            .expect("find");
        assert!(
            renamed.is_empty(),
            "the predicate sees the recorded version"
        );
        let count = |display_name: &'static str| {
            w.snapshots.count(&w.client, LAX, move |room| {
                room.display_name == display_name
            })
        };
        assert_eq!(
            count("a").await.expect("count"),
            0,
            "as find: the recorded version"
        );
        assert_eq!(
            count("a renamed").await.expect("count"),
            1,
            "a listed room written since is counted once"
        );
        assert_eq!(count("b").await.expect("count"), 1);
        assert_eq!(w.listings(), 1, "recorded writes force no listing");
        assert_eq!(w.overlay_ids(), sorted(&[&a.id, &b.id]));

        // A newer listing includes `b` (and the API's `a`): the overlay is pruned.
        w.age_listing(TEN_MINUTES);
        assert!(w.room(&b.id, LAX).await.is_some());
        assert_eq!(w.listings(), 2);
        assert!(w.overlay_ids().is_empty());
        assert_eq!(w.names(LAX).await, sorted(&["a", "b"]));

        // `b` deleted on the API: once listed again, nothing resurrects it.
        w.sim.remove_room(w.app(), &b.id).expect("remove b");
        w.age_listing(TEN_MINUTES);
        assert!(w.room(&b.id, LAX).await.is_none());
        assert_eq!(w.names(LAX).await, sorted(&["a"]));
        assert_eq!(w.listings(), 3);
    }

    #[tokio::test]
    async fn a_write_recorded_while_a_listing_runs_outlives_it() {
        let w = World::start().await;
        w.create("a").await;
        assert_eq!(w.names(LAX).await, sorted(&["a"]));
        w.snapshots.record(w.app(), written("before"));
        w.age_listing(TEN_MINUTES);

        w.slow_listings(300);
        let refresh = {
            let snapshots = w.snapshots.clone();
            let client = w.client.clone();
            tokio::spawn(async move { snapshots.find(&client, LAX, |_| true).await })
        };
        w.refresh_under_way().await;
        assert!(
            !w.holds_listing(),
            "the stale listing is let go first (86e5c57)"
        );
        w.snapshots.record(w.app(), written("during"));
        let during_refresh = refresh.await.expect("join").expect("listing");
        assert_eq!(during_refresh.len(), 2, "{during_refresh:?}");

        // The listing may predate `during`, so it stays; `before` is gone.
        assert_eq!(w.overlay_ids(), sorted(&["during"]));
        assert!(w.room("during", LAX).await.is_some());
        assert!(w.room("before", LAX).await.is_none());
        assert_eq!(w.names(LAX).await, sorted(&["a", "during"]));
        assert_eq!(w.listings(), 2);
    }

    /// Drops the application's listing the moment it is woken, as a refresh
    /// that was waiting for the lock does first thing.
    struct DropListingOnWake {
        snapshots: Arc<RoomSnapshots>,
        app: String,
        dropped: AtomicBool,
    }

    impl Wake for DropListingOnWake {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            // `try_lock`: a reader still holding the slots would deadlock here.
            if let Ok(mut slots) = self.snapshots.slots.try_lock()
                && let Some(slot) = slots.get_mut(&self.app)
            {
                slot.listing = None;
                self.dropped.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Runs `read`, a question that finds the listing stale and waits for a
    /// refresh under way, so that right after it has validated the refreshed
    /// listing and let go of the refresh lock, the next refresh in line drops
    /// that listing: the window of 7b4848b, made deterministic. (The lock
    /// hands over to waiters in order and wakes the next one synchronously
    /// when released, between `ensure_fresh` returning and the lookup.)
    async fn read_while_the_next_refresh_starts<F: Future>(w: &World, read: F) -> F::Output {
        w.age_listing(TEN_MINUTES);
        let refresh = w.refresh_lock();
        let under_way = refresh.lock().await;
        let mut read = std::pin::pin!(read);
        assert!(
            futures::poll!(read.as_mut()).is_pending(),
            "the reader waits for the refresh under way"
        );
        let next = Arc::new(DropListingOnWake {
            snapshots: w.snapshots.clone(),
            app: w.app().to_owned(),
            dropped: AtomicBool::new(false),
        });
        let waker = Waker::from(next.clone());
        let mut next_refresh = std::pin::pin!(refresh.lock());
        assert!(
            next_refresh
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        // The refresh under way stores its listing (the same rooms, taken now).
        {
            let mut slots = w.snapshots.lock();
            let slot = slots.get_mut(w.app()).expect("slot");
            let rooms = slot.listing.as_ref().expect("listing").1.clone();
            slot.listing = Some((Instant::now(), rooms));
        }
        drop(under_way);
        let answer = read.await;
        assert!(
            next.dropped.load(Ordering::SeqCst),
            "the next refresh dropped the listing before the reader looked"
        );
        answer
    }

    #[tokio::test]
    async fn room_keeps_the_listing_it_validated_while_a_refresh_drops_it() {
        let w = World::start().await;
        let a = w.create("a").await;
        assert!(w.room(&a.id, LAX).await.is_some());

        let seen = read_while_the_next_refresh_starts(&w, w.room(&a.id, LAX)).await;
        assert!(!w.holds_listing(), "the race happened");
        assert_eq!(
            seen.map(|room| room.display_name.clone()).as_deref(),
            Some("a"),
            "a listed room must not vanish while a refresh is under way"
        );
        assert_eq!(w.listings(), 1);
    }

    #[tokio::test]
    async fn find_keeps_the_listing_it_validated_while_a_refresh_drops_it() {
        let w = World::start().await;
        w.create("a").await;
        assert_eq!(w.names(LAX).await, sorted(&["a"]));
        w.snapshots.record(w.app(), written("recorded"));

        // Not only the overlay: a lost-create lookup that saw only it would
        // create `a` again.
        let seen = read_while_the_next_refresh_starts(&w, w.names(LAX)).await;
        assert!(!w.holds_listing(), "the race happened");
        assert_eq!(seen, sorted(&["a", "recorded"]));
        assert_eq!(w.listings(), 1);
    }

    #[tokio::test]
    async fn no_host_url_is_kept() {
        let w = World::start().await;
        let listed = w.create("listed").await;
        let recorded = w.create("recorded").await;
        assert!(
            listed.links.host_url.is_some() && recorded.links.host_url.is_some(),
            "the API answers with host URLs"
        );
        assert!(w.room(&listed.id, LAX).await.is_some());
        w.snapshots.record(w.app(), recorded.clone());

        let all = w
            .snapshots
            .find(&w.client, LAX, |_| true)
            .await
            .expect("find");
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|room| room.links.host_url.is_none()));
        assert!(all.iter().all(|room| room.links.guest_url.is_some()));
    }

    #[tokio::test]
    async fn each_application_has_its_own_listing_and_overlay() {
        let w = World::start().await;
        let a = w.create("a").await;
        let other_app = w.sim.add_application().await.expect("second application");
        let other = client(&w.sim, &other_app);
        let b = other
            .create_room(&CreateRoom {
                display_name: "b".into(),
                ..CreateRoom::default()
            })
            .await
            .expect("create b");

        assert!(w.room(&a.id, LAX).await.is_some());
        assert!(w.room(&b.id, LAX).await.is_none());
        assert!(read_room(&w.snapshots, &other, &b.id, LAX).await.is_some());
        w.snapshots
            .record(other.application_id(), written("other's write"));
        assert_eq!(w.names(LAX).await, sorted(&["a"]));
        let theirs = w.snapshots.find(&other, LAX, |_| true).await.expect("find");
        let mut theirs: Vec<&str> = theirs.iter().map(|r| r.display_name.as_str()).collect();
        theirs.sort_unstable();
        assert_eq!(theirs, ["b", "other's write"]);
        assert_eq!(w.listings(), 2, "one listing per application");
    }

    #[tokio::test]
    async fn a_failed_refresh_answers_the_error_and_the_next_question_lists_again() {
        let w = World::start().await;
        let a = w.create("a").await;
        assert!(w.room(&a.id, LAX).await.is_some());
        w.age_listing(TEN_MINUTES);
        w.sim
            .faults()
            .add(FaultSpec::new("getRooms", FaultKind::ServerError { status: Some(500) }).times(1));

        let answer = w.snapshots.room(&w.client, &a.id, LAX, || {}).await;
        assert!(answer.is_err());
        // The stale listing was let go before the failed read: even a
        // question that would have accepted it lists again.
        assert!(!w.holds_listing());
        let patient = Freshness {
            max_age: Duration::from_secs(3600),
            not_before: None,
        };
        assert!(w.room(&a.id, patient).await.is_some());
        assert_eq!(w.listings(), 3);
    }
}
