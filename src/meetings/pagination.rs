//! Room listings: single pages and a stream over all pages that cannot loop forever.

use futures::Stream;
use url::Url;

use super::client::{Auth, Call, MeetingsClient};
use super::error::ApiError;
use super::models::{Room, RoomsPage};
use super::rate_limit::Priority;
use super::retry::Idempotency;

/// Which rooms a listing covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomScope {
    /// Every room of the application (`GET /rooms`).
    All,
    /// Rooms using one theme (`GET /themes/{id}/rooms`).
    Theme(String),
}

/// The window of one page request. Ids are the service's hidden room serials.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageQuery {
    /// First serial to include.
    pub start_id: Option<String>,
    /// Serial to stop before.
    pub end_id: Option<String>,
    /// Rooms per page (the client's default when `None`).
    pub page_size: Option<u32>,
}

impl PageQuery {
    /// The `start_id` carried by a `next` link, which may lack a scheme
    /// (`api-eu.vonage.com/meetings/rooms?start_id=..`) or be relative.
    pub fn start_id_from_link(href: &str) -> Option<String> {
        let href = href.trim();
        if href.is_empty() {
            return None;
        }
        let parsed = Url::parse(href)
            .ok()
            .filter(|u| !u.cannot_be_a_base())
            .or_else(|| Url::parse(&format!("http://{}", href.trim_start_matches('/'))).ok())?;
        parsed
            .query_pairs()
            .find(|(k, _)| k == "start_id")
            .map(|(_, v)| v.into_owned())
    }
}

/// A numeric view of a serial for the "does it increase" check.
fn serial(value: &str) -> Option<u128> {
    value.trim().parse().ok()
}

impl MeetingsClient {
    /// Fetches one page of rooms.
    pub async fn rooms_page(
        &self,
        scope: &RoomScope,
        query: &PageQuery,
    ) -> Result<RoomsPage, ApiError> {
        self.page_at(scope, query, Priority::Foreground).await
    }

    async fn page_at(
        &self,
        scope: &RoomScope,
        query: &PageQuery,
        priority: Priority,
    ) -> Result<RoomsPage, ApiError> {
        let (operation, mut url) = match scope {
            RoomScope::All => ("getRooms", self.url(&["rooms"])),
            RoomScope::Theme(id) => ("getRoomsByThemeId", self.url(&["themes", id, "rooms"])),
        };
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair(
                "page_size",
                &query.page_size.unwrap_or(self.page_size()).to_string(),
            );
            if let Some(start) = &query.start_id {
                pairs.append_pair("start_id", start);
            }
            if let Some(end) = &query.end_id {
                pairs.append_pair("end_id", end);
            }
        }
        let answer = self
            .execute(Call {
                operation,
                method: reqwest::Method::GET,
                url,
                json: None,
                multipart: None,
                idempotency: Idempotency::Idempotent,
                auth: Auth::Bearer,
                priority,
            })
            .await?;
        Self::decode(operation, &answer)
    }

    /// Streams every room in `scope`, page by page (see [`Self::rooms_at`]).
    pub fn rooms(&self, scope: RoomScope) -> impl Stream<Item = Result<Room, ApiError>> + '_ {
        self.rooms_at(scope, Priority::Foreground)
    }

    /// Streams every room in `scope`, page by page, each page requested at
    /// `priority`.
    ///
    /// Ends on an empty or short page, when `total_items` rooms were seen, when
    /// there is no `next` link, or when `next` does not move forward (a numeric
    /// start that does not increase, or any start already requested): a listing
    /// that trusts only `page_size` or `next` could loop forever.
    pub fn rooms_at(
        &self,
        scope: RoomScope,
        priority: Priority,
    ) -> impl Stream<Item = Result<Room, ApiError>> + '_ {
        struct State {
            scope: RoomScope,
            next: Option<PageQuery>,
            seen: u64,
            last_start: Option<u128>,
            requested: std::collections::HashSet<String>,
        }
        let page_size = self.page_size();
        let initial = State {
            scope,
            next: Some(PageQuery {
                page_size: Some(page_size),
                ..Default::default()
            }),
            seen: 0,
            last_start: None,
            requested: std::collections::HashSet::new(),
        };
        let pages = futures::stream::try_unfold(initial, move |mut state| async move {
            let Some(query) = state.next.take() else {
                return Ok::<_, ApiError>(None);
            };
            let page = self.page_at(&state.scope, &query, priority).await?;
            let count = page.rooms.len() as u64;
            state.seen += count;
            let short = count < u64::from(page_size);
            let complete = page.total_items.is_some_and(|total| state.seen >= total);
            let next_start = page
                .links
                .next
                .as_ref()
                .and_then(|l| PageQuery::start_id_from_link(&l.href));
            if count > 0
                && !short
                && !complete
                && let Some(start) = next_start
            {
                let numeric = serial(&start);
                let advances = match (numeric, state.last_start) {
                    (Some(new), Some(old)) => new > old,
                    _ => true,
                };
                // Non-numeric starts cannot be ordered; refusing any start already
                // requested still ends a listing whose links cycle.
                if advances && state.requested.insert(start.clone()) {
                    state.last_start = numeric;
                    state.next = Some(PageQuery {
                        start_id: Some(start),
                        end_id: None,
                        page_size: Some(page_size),
                    });
                } else {
                    tracing::warn!(start_id = %start, "room listing stopped: next page does not advance");
                }
            }
            Ok(Some((
                futures::stream::iter(page.rooms.into_iter().map(Ok)),
                state,
            )))
        });
        futures::TryStreamExt::try_flatten(pages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_id_is_read_from_every_link_form() {
        for href in [
            "api-eu.vonage.com/meetings/rooms?page_size=20&start_id=2006655",
            "https://api-eu.vonage.com/v1/meetings/rooms?start_id=2006655&page_size=20",
            "/meetings/rooms?start_id=2006655",
            "127.0.0.1:8080/meetings/rooms?page_size=20&start_id=2006655",
        ] {
            assert_eq!(
                PageQuery::start_id_from_link(href).as_deref(),
                Some("2006655"),
                "{href}"
            );
        }
        assert_eq!(PageQuery::start_id_from_link(""), None);
        assert_eq!(
            PageQuery::start_id_from_link("api-eu.vonage.com/meetings/rooms?end_id=5"),
            None
        );
    }
}
