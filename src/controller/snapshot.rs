//! A shared, page-by-page snapshot of each application's remote rooms.
//!
//! Observing rooms one GET at a time costs one call per room per resync; one
//! listing costs `ceil(rooms / page size)` calls and answers every reconcile of
//! that application until it is older than the allowed age. Concurrent
//! reconciles that find the snapshot stale wait for one refresh instead of
//! each listing again. Rooms this operator created or changed since the
//! listing are kept in an overlay, so its own writes never force a re-read.
//!
//! Host URLs are credentials, re-issued on every read: the snapshot keeps
//! none. The rare reconcile that needs one (its Secret is gone) reads the room.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt;

use crate::meetings::{ApiError, MeetingsClient, Room, RoomScope};

/// Rooms by id from one listing.
type Listing = Arc<HashMap<String, Arc<Room>>>;

#[derive(Default)]
struct Slot {
    listing: Option<(Instant, Listing)>,
    overlay: HashMap<String, (Instant, Arc<Room>)>,
    refresh: Arc<tokio::sync::Mutex<()>>,
}

impl Slot {
    /// The slot's listing, newer than or the same as `validated` (a caller's
    /// fresh listing) and the one its overlay was pruned for; `validated`
    /// while a refresh is under way, when the overlay still holds every
    /// write since `validated` was taken.
    fn current_or<'a>(&'a self, validated: &'a Listing) -> &'a Listing {
        self.listing.as_ref().map_or(validated, |(_, rooms)| rooms)
    }
}

/// Snapshots of remote rooms per application id.
#[derive(Default)]
pub struct RoomSnapshots {
    slots: Mutex<HashMap<String, Slot>>,
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

impl RoomSnapshots {
    /// The room with `room_id` as last listed or written, from a listing that
    /// satisfies `freshness`. `None` means the listing did not contain it.
    pub async fn room(
        &self,
        client: &MeetingsClient,
        room_id: &str,
        freshness: Freshness,
    ) -> Result<Option<Arc<Room>>, ApiError> {
        let validated = self.ensure_fresh(client, freshness).await?;
        let slots = self.lock();
        let Some(slot) = slots.get(client.application_id()) else {
            return Ok(validated.get(room_id).cloned());
        };
        Ok(slot
            .overlay
            .get(room_id)
            .map(|(_, room)| room)
            .or_else(|| slot.current_or(&validated).get(room_id))
            .cloned())
    }

    /// Every room of the application matching `predicate`, from a listing
    /// that satisfies `freshness`.
    pub async fn find(
        &self,
        client: &MeetingsClient,
        freshness: Freshness,
        predicate: impl Fn(&Room) -> bool,
    ) -> Result<Vec<Arc<Room>>, ApiError> {
        let validated = self.ensure_fresh(client, freshness).await?;
        let slots = self.lock();
        let Some(slot) = slots.get(client.application_id()) else {
            return Ok(validated
                .values()
                .filter(|room| predicate(room))
                .cloned()
                .collect());
        };
        let mut found: HashMap<&str, Arc<Room>> = HashMap::new();
        for (id, room) in slot.current_or(&validated).iter() {
            if predicate(room) {
                found.insert(id.as_str(), room.clone());
            }
        }
        for (id, (_, room)) in &slot.overlay {
            found.remove(id.as_str());
            if predicate(room) {
                found.insert(id.as_str(), room.clone());
            }
        }
        Ok(found.into_values().collect())
    }

    /// Records a room this operator just created, changed or read.
    pub fn record(&self, application_id: &str, room: Room) {
        let mut slots = self.lock();
        let slot = slots.entry(application_id.to_owned()).or_default();
        slot.overlay.insert(
            room.id.clone(),
            (Instant::now(), Arc::new(without_host_url(room))),
        );
    }

    /// A listing that satisfies `freshness`, read now unless one is held.
    async fn ensure_fresh(
        &self,
        client: &MeetingsClient,
        freshness: Freshness,
    ) -> Result<Listing, ApiError> {
        let app = client.application_id().to_owned();
        let fresh_listing = |slot: &Slot| {
            slot.listing
                .as_ref()
                .filter(|(taken_at, _)| {
                    taken_at.elapsed() <= freshness.max_age
                        && freshness.not_before.is_none_or(|t| *taken_at >= t)
                })
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
        let rooms: HashMap<String, Arc<Room>> = client
            .rooms(RoomScope::All)
            .map_ok(|room| (room.id.clone(), Arc::new(without_host_url(room))))
            .try_collect()
            .await?;
        let listing = Arc::new(rooms);
        let mut slots = self.lock();
        let slot = slots.entry(app).or_default();
        slot.listing = Some((started, listing.clone()));
        // Keep writes recorded while the listing was running: it may predate them.
        slot.overlay
            .retain(|_, (recorded_at, _)| *recorded_at >= started);
        Ok(listing)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }
}
