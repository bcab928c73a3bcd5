//! The watch hub: the state machine publishes each applied revision here, and every watch
//! is a task that first replays the retained history from its start revision and then
//! follows the live revisions.
//!
//! No revision is missed or repeated between the two phases: the state machine writes a
//! revision to RocksDB, then raises the current revision, then broadcasts it; a watcher
//! subscribes before it reads the current revision, so each revision is either in the
//! history it reads or in its subscription (duplicates are skipped by revision). A watcher
//! that falls behind the broadcast buffer goes back to reading history, so a slow watcher
//! costs memory for one buffer, not for every event it has not taken yet.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use rocksdb::DB;
use tokio::sync::{broadcast, mpsc, watch};

use crate::mvcc::MvccReader;
use crate::types::*;

const LIVE_BUFFER: usize = 1024;
const REPLAY_PAGE: usize = 256;

#[derive(Clone, Debug)]
pub(crate) enum HubMessage {
    Revision {
        revision: Revision,
        events: Arc<Vec<Event>>,
    },
    /// The state was replaced by a snapshot: history before `revision` is gone.
    Reset { revision: Revision },
}

pub(crate) struct WatchHub {
    live: broadcast::Sender<HubMessage>,
    current: watch::Sender<Revision>,
}

impl WatchHub {
    pub fn new() -> WatchHub {
        WatchHub {
            live: broadcast::channel(LIVE_BUFFER).0,
            current: watch::channel(0).0,
        }
    }

    pub fn current_revision(&self) -> Revision {
        *self.current.borrow()
    }

    /// Called after the revisions' writes reached RocksDB.
    pub fn publish(&self, revision: Revision, events: Vec<(Revision, Arc<Vec<Event>>)>) {
        self.current.send_replace(revision);
        for (revision, events) in events {
            let _ = self.live.send(HubMessage::Revision { revision, events });
        }
    }

    pub fn reset(&self, revision: Revision) {
        self.current.send_replace(revision);
        let _ = self.live.send(HubMessage::Reset { revision });
    }
}

/// The messages of one watch, in revision order. Dropping it ends the watch.
pub struct WatchStream {
    rx: mpsc::Receiver<WatchMessage>,
    progress: ProgressRequester,
}

impl WatchStream {
    /// The next message; `None` once the watch has ended.
    pub async fn next_message(&mut self) -> Option<WatchMessage> {
        self.rx.recv().await
    }

    /// A handle that asks this watch for a progress notification now.
    pub fn progress_requester(&self) -> ProgressRequester {
        self.progress.clone()
    }
}

/// Asks a watch to send `Progress` with the revision it has delivered everything up to
/// (like etcd's RequestProgress): a cache fed by the watch learns it is current without
/// waiting for the periodic notification.
#[derive(Clone, Default)]
pub struct ProgressRequester(Arc<tokio::sync::Notify>);

impl ProgressRequester {
    pub fn request(&self) {
        self.0.notify_one();
    }
}

impl Stream for WatchStream {
    type Item = WatchMessage;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchMessage>> {
        self.rx.poll_recv(cx)
    }
}

/// Starts a watch. A start revision that is already compacted is refused at once.
pub(crate) fn start(
    db: Arc<DB>,
    hub: &WatchHub,
    req: WatchRequest,
    progress_interval: Duration,
) -> Result<WatchStream> {
    let live = hub.live.subscribe();
    let current = hub.current_revision();
    let next = if req.start_revision == 0 {
        current + 1
    } else {
        req.start_revision
    };
    let (_, compact) = MvccReader::latest(&db).revisions()?;
    if next <= compact {
        return Err(StoreError::Compacted {
            requested: next,
            compact_revision: compact,
        });
    }
    let (tx, rx) = mpsc::channel(64);
    let progress = ProgressRequester::default();
    let watcher = Watcher {
        db,
        prefix: req.prefix,
        next,
        tx,
        progress_interval,
        progress_requested: progress.clone(),
    };
    tokio::spawn(watcher.run(live, hub.current.subscribe()));
    Ok(WatchStream { rx, progress })
}

struct Watcher {
    db: Arc<DB>,
    prefix: Vec<u8>,
    /// The next revision to deliver.
    next: Revision,
    tx: mpsc::Sender<WatchMessage>,
    progress_interval: Duration,
    progress_requested: ProgressRequester,
}

enum Flow {
    Continue,
    /// The receiver is gone or the watch cannot go on.
    Stop,
}

/// What to do after a live message.
enum Step {
    Next,
    /// A revision was missed: replay from RocksDB.
    CatchUp,
    Stop,
}

impl Watcher {
    async fn run(
        mut self,
        mut live: broadcast::Receiver<HubMessage>,
        current: watch::Receiver<Revision>,
    ) {
        // A progress request not yet answered; it survives a return to catching up.
        let mut progress_owed = false;
        'catch_up: loop {
            // Replay what is in RocksDB up to the current revision, a page at a time.
            loop {
                let upto = *current.borrow();
                if self.next > upto {
                    break;
                }
                let page = MvccReader::latest(&self.db).events(self.next, upto, REPLAY_PAGE);
                match page {
                    Ok(page) => {
                        if page.is_empty() {
                            // Revisions without stored events cannot exist below `upto`;
                            // treat the gap as delivered rather than spin.
                            self.next = upto + 1;
                        }
                        for (revision, events) in page {
                            if let Flow::Stop = self.deliver(revision, &events).await {
                                return;
                            }
                        }
                    }
                    Err(StoreError::Compacted {
                        compact_revision, ..
                    }) => {
                        let _ = self
                            .tx
                            .send(WatchMessage::Compacted { compact_revision })
                            .await;
                        return;
                    }
                    Err(_) => return,
                }
            }
            let mut progress = tokio::time::interval(self.progress_interval);
            progress.tick().await;
            let mut sent_since_tick = false;
            loop {
                if progress_owed {
                    // Report only once every revision published before the request is
                    // delivered: the requester may have just written one.
                    loop {
                        match live.try_recv() {
                            Ok(msg) => match self.on_live(msg).await {
                                Step::Next => sent_since_tick = true,
                                Step::CatchUp => continue 'catch_up,
                                Step::Stop => return,
                            },
                            Err(broadcast::error::TryRecvError::Empty) => break,
                            Err(broadcast::error::TryRecvError::Lagged(_)) => continue 'catch_up,
                            Err(broadcast::error::TryRecvError::Closed) => return,
                        }
                    }
                    if self.send_progress().await.is_err() {
                        return;
                    }
                    progress_owed = false;
                }
                tokio::select! {
                    msg = live.recv() => match msg {
                        Ok(msg) => match self.on_live(msg).await {
                            Step::Next => sent_since_tick = true,
                            Step::CatchUp => continue 'catch_up,
                            Step::Stop => return,
                        },
                        Err(broadcast::error::RecvError::Lagged(_)) => continue 'catch_up,
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = progress.tick() => {
                        if !sent_since_tick && self.send_progress().await.is_err() {
                            return;
                        }
                        sent_since_tick = false;
                    }
                    _ = self.progress_requested.0.notified() => progress_owed = true,
                    _ = self.tx.closed() => return,
                }
            }
        }
    }

    /// Handles one live revision: delivers it if it is the next one.
    async fn on_live(&mut self, msg: HubMessage) -> Step {
        match msg {
            HubMessage::Revision { revision, events } => {
                if revision < self.next {
                    return Step::Next;
                }
                if revision > self.next {
                    // A revision between was published before we subscribed.
                    return Step::CatchUp;
                }
                match self.deliver(revision, &events).await {
                    Flow::Continue => Step::Next,
                    Flow::Stop => Step::Stop,
                }
            }
            HubMessage::Reset { revision } => {
                let _ = self
                    .tx
                    .send(WatchMessage::Compacted {
                        compact_revision: revision,
                    })
                    .await;
                Step::Stop
            }
        }
    }

    /// Everything up to the last delivered revision has been sent.
    async fn send_progress(&self) -> std::result::Result<(), ()> {
        let revision = self.next - 1;
        self.tx
            .send(WatchMessage::Progress { revision })
            .await
            .map_err(|_| ())
    }

    async fn deliver(&mut self, revision: Revision, events: &[Event]) -> Flow {
        self.next = revision + 1;
        let matching: Vec<Event> = events
            .iter()
            .filter(|e| e.kv.key.starts_with(&self.prefix))
            .cloned()
            .collect();
        if matching.is_empty() {
            return Flow::Continue;
        }
        match self
            .tx
            .send(WatchMessage::Events {
                revision,
                events: matching,
            })
            .await
        {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Stop,
        }
    }
}
