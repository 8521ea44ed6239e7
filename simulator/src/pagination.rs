//! Room listing pagination: hidden serial windows and the service's scheme-less `_links`.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde_json::{Value, json};

use super::errors::ApiError;

/// A parsed listing request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Inclusive lower serial bound.
    pub start_id: Option<u64>,
    /// Exclusive upper serial bound.
    pub end_id: Option<u64>,
    /// Requested (or default) page size.
    pub page_size: u32,
}

impl PageRequest {
    /// Parses `start_id`, `end_id` and `page_size` from a raw query string.
    pub fn parse(query: Option<&str>, default_size: u32, max_size: u32) -> Result<Self, ApiError> {
        let mut start_id = None;
        let mut end_id = None;
        let mut page_size = None;
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match name.as_ref() {
                "start_id" if start_id.is_none() => {
                    start_id = Some(parse_number("start_id", &value)?)
                }
                "end_id" if end_id.is_none() => end_id = Some(parse_number("end_id", &value)?),
                "page_size" if page_size.is_none() => {
                    page_size = Some(parse_number("page_size", &value)?)
                }
                _ => {}
            }
        }
        let page_size = match page_size {
            None => default_size,
            Some(0) => {
                return Err(ApiError::invalid(
                    "\"page_size\" must be greater than or equal to 1",
                ));
            }
            Some(n) if n > u64::from(max_size) => {
                return Err(ApiError::invalid(format!(
                    "\"page_size\" must be less than or equal to {max_size}"
                )));
            }
            Some(n) => u32::try_from(n).unwrap_or(max_size),
        };
        Ok(Self {
            start_id,
            end_id,
            page_size,
        })
    }

    /// The entries of `serials` this request returns: from `start_id`
    /// (inclusive) up to `end_id` (exclusive), the first `page_size` of
    /// them, or the last when walking backwards with `end_id` alone; read
    /// without walking the rest.
    pub fn page_of<'a, V>(&self, serials: &'a BTreeMap<u64, V>) -> Vec<(u64, &'a V)> {
        let size = self.page_size as usize;
        let lower = self.start_id.map_or(Bound::Unbounded, Bound::Included);
        let upper = self.end_id.map_or(Bound::Unbounded, Bound::Excluded);
        if let (Some(start), Some(end)) = (self.start_id, self.end_id)
            && end <= start
        {
            return Vec::new();
        }
        let range = serials
            .range((lower, upper))
            .map(|(serial, v)| (*serial, v));
        if self.start_id.is_none() && self.end_id.is_some() {
            // Walking backwards via `prev`: the page just before `end_id`.
            let mut page: Vec<_> = range.rev().take(size).collect();
            page.reverse();
            page
        } else {
            range.take(size).collect()
        }
    }

    /// The `_links` object for a page whose serials run from `first` to `last`.
    /// `base` is scheme-less and unversioned, e.g. `api-eu.vonage.com/meetings/rooms`.
    pub fn links(&self, base: &str, bounds: Option<(u64, u64)>) -> Value {
        let size = self.page_size;
        let href = |query: String| json!({ "href": format!("{base}?page_size={size}{query}") });
        let mut self_query = String::new();
        if let Some(start) = self.start_id {
            self_query.push_str(&format!("&start_id={start}"));
        }
        if let Some(end) = self.end_id {
            self_query.push_str(&format!("&end_id={end}"));
        }
        let (next_start, prev_end) = match bounds {
            Some((first, last)) => (last.saturating_add(1), first.saturating_sub(1)),
            None => (
                self.start_id.unwrap_or(0),
                self.end_id.or(self.start_id).unwrap_or(0),
            ),
        };
        json!({
            "first": href(String::new()),
            "self": href(self_query),
            "prev": href(format!("&end_id={prev_end}")),
            "next": href(format!("&start_id={next_start}")),
        })
    }
}

fn parse_number(name: &str, value: &str) -> Result<u64, ApiError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let message = if trimmed.parse::<f64>().is_ok() {
            if trimmed.starts_with('-') {
                format!("\"{name}\" must be greater than or equal to 0")
            } else {
                format!("\"{name}\" must be an integer")
            }
        } else {
            format!("\"{name}\" must be a number")
        };
        return Err(ApiError::invalid(message));
    }
    trimmed
        .parse::<u64>()
        .map_err(|_| ApiError::invalid(format!("\"{name}\" must be a safe number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(query: &str) -> PageRequest {
        PageRequest::parse(Some(query), 20, 1000).unwrap()
    }

    #[test]
    fn parses_and_validates() {
        assert_eq!(
            req(""),
            PageRequest {
                start_id: None,
                end_id: None,
                page_size: 20
            }
        );
        assert_eq!(req("page_size=1000&start_id=5").page_size, 1000);
        assert_eq!(req("start_id=7&end_id=9").end_id, Some(9));
        for bad in [
            "page_size=0",
            "page_size=1001",
            "page_size=abc",
            "start_id=-1",
            "end_id=1.5",
            "start_id=",
        ] {
            let err = PageRequest::parse(Some(bad), 20, 1000).unwrap_err();
            assert!(matches!(err, ApiError::InputValidation(_)), "{bad}");
        }
    }

    /// The serials of the page `query` picks from 10, 20, 30, 40, 50.
    fn page(query: &str) -> Vec<u64> {
        let serials: BTreeMap<u64, ()> = [10, 20, 30, 40, 50].map(|s| (s, ())).into();
        req(query)
            .page_of(&serials)
            .iter()
            .map(|(s, _)| *s)
            .collect()
    }

    #[test]
    fn windows_follow_inclusive_start_and_exclusive_end() {
        assert_eq!(page("page_size=2"), [10, 20]);
        assert_eq!(page("page_size=2&start_id=20"), [20, 30]);
        assert_eq!(page("page_size=2&start_id=21"), [30, 40]);
        assert_eq!(page("page_size=10&start_id=20&end_id=40"), [20, 30]);
        assert_eq!(page("page_size=2&end_id=40"), [20, 30]);
        assert_eq!(page("page_size=2&start_id=51"), [0u64; 0]);
        assert_eq!(page("page_size=2&start_id=40&end_id=20"), [0u64; 0]);
    }

    #[test]
    fn a_page_read_from_the_map_is_the_window_of_its_serials() {
        let serials: BTreeMap<u64, ()> = [10, 20, 30, 40, 50].map(|s| (s, ())).into();
        let bounds = [
            None,
            Some(0),
            Some(10),
            Some(21),
            Some(40),
            Some(50),
            Some(51),
        ];
        for start in bounds {
            for end in bounds {
                for size in [1, 2, 3, 10] {
                    let req = PageRequest {
                        start_id: start,
                        end_id: end,
                        page_size: size,
                    };
                    let page: Vec<u64> = req.page_of(&serials).iter().map(|(s, _)| *s).collect();
                    // The window by its definition, every serial looked at.
                    let within: Vec<u64> = serials
                        .keys()
                        .copied()
                        .filter(|s| start.is_none_or(|start| *s >= start))
                        .filter(|s| end.is_none_or(|end| *s < end))
                        .collect();
                    let size = size as usize;
                    let window = if start.is_none() && end.is_some() {
                        &within[within.len().saturating_sub(size)..]
                    } else {
                        &within[..within.len().min(size)]
                    };
                    assert_eq!(page, window, "{req:?}");
                }
            }
        }
    }

    #[test]
    fn links_point_past_the_page() {
        let links =
            req("page_size=20&start_id=100").links("127.0.0.1:9/meetings/rooms", Some((104, 180)));
        assert_eq!(
            links["first"]["href"],
            "127.0.0.1:9/meetings/rooms?page_size=20"
        );
        assert_eq!(
            links["self"]["href"],
            "127.0.0.1:9/meetings/rooms?page_size=20&start_id=100"
        );
        assert_eq!(
            links["next"]["href"],
            "127.0.0.1:9/meetings/rooms?page_size=20&start_id=181"
        );
        assert_eq!(
            links["prev"]["href"],
            "127.0.0.1:9/meetings/rooms?page_size=20&end_id=103"
        );
    }

    #[test]
    fn empty_page_still_has_all_links() {
        let links = req("start_id=500").links("h/meetings/rooms", None);
        for name in ["first", "self", "prev", "next"] {
            assert!(links[name]["href"].is_string(), "{name}");
        }
        assert_eq!(
            links["next"]["href"],
            "h/meetings/rooms?page_size=20&start_id=500"
        );
    }
}
