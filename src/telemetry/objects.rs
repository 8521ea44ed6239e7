//! `meetings_operator_objects{kind,condition,status}`: the watched objects
//! counted by the status of their `Ready`, `Synced`, `Reconciling` and
//! `Stalled` conditions, computed
//! from the controllers' caches on every scrape.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::crd::conditions::Condition;
use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use super::{KIND_ROOM, KIND_THEME};
use crate::crd::conditions::{READY, RECONCILING, STALLED, SYNCED};
use crate::crd::{MeetingRoom, MeetingTheme};

const NAME: &str = "meetings_operator_objects";
const HELP: &str = "Watched objects by kind and by the status (True, False, Unknown) of their \
                    Ready, Synced, Reconciling and Stalled conditions; a missing condition \
                    counts as Unknown";
const CONDITIONS: [&str; 4] = [READY, SYNCED, RECONCILING, STALLED];
const STATUSES: [&str; 3] = ["True", "False", "Unknown"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct ObjectLabels {
    kind: &'static str,
    condition: &'static str,
    status: &'static str,
}

#[derive(Default)]
struct Stores {
    themes: Vec<Store<MeetingTheme>>,
    rooms: Vec<Store<MeetingRoom>>,
}

/// Counts objects of the registered stores at scrape time.
#[derive(Clone, Default)]
pub(crate) struct ObjectsCollector {
    stores: Arc<Mutex<Stores>>,
}

impl std::fmt::Debug for ObjectsCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let stores = self.lock();
        f.debug_struct("ObjectsCollector")
            .field("theme_stores", &stores.themes.len())
            .field("room_stores", &stores.rooms.len())
            .finish()
    }
}

impl ObjectsCollector {
    fn lock(&self) -> MutexGuard<'_, Stores> {
        self.stores
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn add(&self, themes: Store<MeetingTheme>, rooms: Store<MeetingRoom>) {
        let mut stores = self.lock();
        stores.themes.push(themes);
        stores.rooms.push(rooms);
    }

    fn counts(&self) -> BTreeMap<ObjectLabels, i64> {
        let mut counts = BTreeMap::new();
        for kind in [KIND_THEME, KIND_ROOM] {
            for condition in CONDITIONS {
                for status in STATUSES {
                    counts.insert(
                        ObjectLabels {
                            kind,
                            condition,
                            status,
                        },
                        0,
                    );
                }
            }
        }
        let stores = self.lock();
        for store in &stores.themes {
            for theme in store.state() {
                let conditions = theme.status.as_ref().map(|s| s.conditions.as_slice());
                count(&mut counts, KIND_THEME, conditions.unwrap_or_default());
            }
        }
        for store in &stores.rooms {
            for room in store.state() {
                let conditions = room.status.as_ref().map(|s| s.conditions.as_slice());
                count(&mut counts, KIND_ROOM, conditions.unwrap_or_default());
            }
        }
        counts
    }
}

fn count(counts: &mut BTreeMap<ObjectLabels, i64>, kind: &'static str, conditions: &[Condition]) {
    for condition in CONDITIONS {
        let status = match conditions.iter().find(|c| c.type_ == condition) {
            Some(c) if c.status == "True" => "True",
            Some(c) if c.status == "False" => "False",
            _ => "Unknown",
        };
        *counts
            .entry(ObjectLabels {
                kind,
                condition,
                status,
            })
            .or_default() += 1;
    }
}

impl Collector for ObjectsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counts = self.counts();
        let mut family = encoder.encode_descriptor(NAME, HELP, None, MetricType::Gauge)?;
        for (labels, value) in &counts {
            ConstGauge::new(*value).encode(family.encode_family(labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::runtime::reflector::store::Writer;
    use kube::runtime::watcher::Event;

    use super::*;
    use crate::crd::{MeetingRoomSpec, MeetingRoomStatus};
    use crate::telemetry::Metrics;

    fn condition(type_: &str, status: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: "Test".into(),
            message: "".into(),
            observed_generation: None,
            last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
        }
    }

    fn room(name: &str, conditions: Vec<Condition>) -> MeetingRoom {
        let spec: MeetingRoomSpec =
            serde_json::from_value(serde_json::json!({ "displayName": name })).unwrap();
        let mut room = MeetingRoom::new(name, spec);
        room.metadata.namespace = Some("ns".into());
        room.status = Some(MeetingRoomStatus {
            conditions,
            ..Default::default()
        });
        room
    }

    #[test]
    fn objects_are_counted_by_condition_status() {
        let mut rooms = Writer::<MeetingRoom>::default();
        for event in [
            Event::InitApply(room(
                "ready",
                vec![condition(READY, "True"), condition(SYNCED, "True")],
            )),
            Event::InitApply(room(
                "failing",
                vec![condition(READY, "False"), condition(SYNCED, "False")],
            )),
            Event::InitApply(room("new", vec![])),
            Event::InitDone,
        ] {
            rooms.apply_watcher_event(&event);
        }
        let themes = Writer::<MeetingTheme>::default();
        let metrics = Metrics::new();
        metrics.watch_stores(themes.as_reader(), rooms.as_reader());
        let text = metrics.render().unwrap();
        for (series, value) in [
            (
                r#"kind="MeetingRoom",condition="Ready",status="True"} 1"#,
                1,
            ),
            (
                r#"kind="MeetingRoom",condition="Ready",status="False"} 1"#,
                1,
            ),
            (
                r#"kind="MeetingRoom",condition="Ready",status="Unknown"} 1"#,
                1,
            ),
            (
                r#"kind="MeetingRoom",condition="Synced",status="True"} 1"#,
                1,
            ),
            (
                r#"kind="MeetingTheme",condition="Ready",status="True"} 0"#,
                0,
            ),
        ] {
            let line = format!("meetings_operator_objects{{{series}");
            assert!(text.contains(&line), "no {line} ({value}) in:\n{text}");
        }
    }
}
