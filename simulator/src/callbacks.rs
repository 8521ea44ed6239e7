//! Best-effort delivery of callback events, with optional duplication and reordering.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use rand::seq::SliceRandom;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{Notify, mpsc};

use super::counters::{CallbackOutcome, Counters};
use super::state::Event;

/// How many delivery records are kept.
const LOG_CAPACITY: usize = 10_000;
/// How long a shuffling dispatcher waits to gather events to reorder.
const SHUFFLE_WINDOW: Duration = Duration::from_millis(25);

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallbackRecord {
    /// When the attempt finished (real time).
    pub at: Timestamp,
    /// Event name.
    pub event: String,
    /// Owning application.
    pub application_id: String,
    /// Target URL; `None` when no URL applied.
    pub url: Option<String>,
    /// The JSON body.
    pub payload: Value,
    /// Receiver's status.
    pub status: Option<u16>,
    /// Transport error or skip reason.
    pub error: Option<String>,
}

/// Events queued together and how to deliver them.
#[derive(Debug)]
pub(crate) struct Batch {
    events: Vec<Event>,
    duplicate: bool,
    shuffle: bool,
}

/// The delivery queue and its log.
#[derive(Debug)]
pub struct Callbacks {
    tx: mpsc::UnboundedSender<Batch>,
    pending: AtomicUsize,
    idle: Notify,
    log: Mutex<VecDeque<CallbackRecord>>,
    counters: Arc<Counters>,
}

impl Callbacks {
    /// A queue and the receiver its dispatcher must drain.
    pub(crate) fn new(counters: Arc<Counters>) -> (Arc<Self>, mpsc::UnboundedReceiver<Batch>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let callbacks = Arc::new(Self {
            tx,
            pending: AtomicUsize::new(0),
            idle: Notify::new(),
            log: Mutex::new(VecDeque::new()),
            counters,
        });
        (callbacks, rx)
    }

    /// Queues events for delivery.
    pub(crate) fn enqueue(&self, events: Vec<Event>, duplicate: bool, shuffle: bool) {
        if events.is_empty() {
            return;
        }
        let count = events.len();
        self.pending.fetch_add(count, Ordering::SeqCst);
        if self
            .tx
            .send(Batch {
                events,
                duplicate,
                shuffle,
            })
            .is_err()
        {
            self.done(count);
        }
    }

    fn done(&self, count: usize) {
        if self.pending.fetch_sub(count, Ordering::SeqCst) <= count {
            self.idle.notify_waiters();
        }
    }

    /// Waits until every queued event has been attempted; false on timeout.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                if self.pending.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// Every retained delivery record, oldest first.
    pub fn log(&self) -> Vec<CallbackRecord> {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Forgets the delivery records.
    pub fn clear_log(&self) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn record(&self, record: CallbackRecord) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.push_back(record);
        while log.len() > LOG_CAPACITY {
            log.pop_front();
        }
    }

    async fn deliver(&self, client: &reqwest::Client, event: &Event) {
        let mut record = CallbackRecord {
            at: Timestamp::now(),
            event: event.name.clone(),
            application_id: event.application_id.clone(),
            url: event.url.clone(),
            payload: event.payload.clone(),
            status: None,
            error: None,
        };
        let outcome = match &event.url {
            None => {
                record.error = Some("no callback URL configured".into());
                CallbackOutcome::Skipped
            }
            Some(url) => match client.post(url).json(&event.payload).send().await {
                Ok(response) => {
                    record.status = Some(response.status().as_u16());
                    if response.status().is_success() {
                        CallbackOutcome::Delivered
                    } else {
                        CallbackOutcome::Failed
                    }
                }
                Err(error) => {
                    tracing::debug!(%error, url, event = %event.name, "callback delivery failed");
                    record.error = Some(error.to_string());
                    CallbackOutcome::Failed
                }
            },
        };
        record.at = Timestamp::now();
        self.counters.record_callback(outcome);
        self.record(record);
    }
}

/// Delivers queued events until the queue closes.
pub(crate) async fn run_dispatcher(
    callbacks: Arc<Callbacks>,
    mut rx: mpsc::UnboundedReceiver<Batch>,
    client: reqwest::Client,
) {
    while let Some(first) = rx.recv().await {
        let mut batches = vec![first];
        if batches[0].shuffle {
            tokio::time::sleep(SHUFFLE_WINDOW).await;
            while let Ok(batch) = rx.try_recv() {
                batches.push(batch);
            }
        }
        let shuffle = batches.iter().any(|b| b.shuffle);
        let mut items: Vec<(Event, bool)> = batches
            .into_iter()
            .flat_map(|b| {
                let duplicate = b.duplicate;
                b.events.into_iter().map(move |e| (e, duplicate))
            })
            .collect();
        if shuffle {
            items.shuffle(&mut rand::rng());
        }
        for (event, duplicate) in items {
            callbacks.deliver(&client, &event).await;
            if duplicate {
                callbacks.deliver(&client, &event).await;
            }
            callbacks.done(1);
        }
    }
}
