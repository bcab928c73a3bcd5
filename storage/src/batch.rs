//! Group commit of transactions. openraft appends (and fsyncs) one entry per client write and
//! waits for each flush before the next, so concurrent writers would each pay a full fsync
//! in turn. The batcher gathers the transactions that arrive while earlier batches are being
//! replicated into one `Command::Txns` entry: one append and one fsync for all of them. Each
//! transaction is still applied on its own, in order, with its own revision.

use std::sync::Arc;

use openraft::error::{ClientWriteError, ForwardToLeader, RaftError};
use openraft::BasicNode;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::mvcc::{Command, CommandResponse};
use crate::raft::Raft;
use crate::types::{Result, StoreError, TxnRequest, TxnResponse};

/// The most transactions in one entry.
const MAX_BATCH: usize = 512;
/// Batches replicating at once; more requests wait and join the next batch.
const IN_FLIGHT: usize = 1;

/// What became of a submitted transaction.
pub(crate) enum Outcome {
    Done(Result<TxnResponse>),
    /// This member is not the leader; the transaction was not appended.
    NotLeader(ForwardToLeader<u64, BasicNode>),
}

type Pending = (TxnRequest, oneshot::Sender<Outcome>);

#[derive(Clone)]
pub(crate) struct Batcher {
    queue: mpsc::Sender<Pending>,
}

impl Batcher {
    /// Starts the batching task; it ends when the last `Batcher` clone is dropped.
    pub fn start(raft: Raft) -> (Batcher, tokio::task::JoinHandle<()>) {
        let (queue, pending) = mpsc::channel(MAX_BATCH * 4);
        (Batcher { queue }, tokio::spawn(run(raft, pending)))
    }

    pub async fn submit(&self, req: TxnRequest) -> Outcome {
        let (tx, rx) = oneshot::channel();
        if self.queue.send((req, tx)).await.is_err() {
            return Outcome::Done(Err(StoreError::Unavailable(
                "the member is shutting down".into(),
            )));
        }
        rx.await.unwrap_or_else(|_| {
            Outcome::Done(Err(StoreError::Unavailable(
                "the member is shutting down".into(),
            )))
        })
    }
}

async fn run(raft: Raft, mut pending: mpsc::Receiver<Pending>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = pending.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            let (reqs, waiters): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            let count = reqs.len();
            let command = match <[TxnRequest; 1]>::try_from(reqs) {
                Ok([one]) => Command::Txn(one),
                Err(many) => Command::Txns(many),
            };
            let outcomes: Vec<Outcome> = match raft.client_write(command).await {
                Ok(resp) => match resp.data {
                    CommandResponse::Txn(r) => vec![Outcome::Done(Ok(r))],
                    CommandResponse::Txns(answers) if answers.len() == count => {
                        answers.into_iter().map(Outcome::Done).collect()
                    }
                    CommandResponse::Error(e) => {
                        (0..count).map(|_| Outcome::Done(Err(e.clone()))).collect()
                    }
                    other => {
                        let e = StoreError::Internal(format!(
                            "unexpected answer to a batch: {other:?}"
                        ));
                        (0..count).map(|_| Outcome::Done(Err(e.clone()))).collect()
                    }
                },
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(to))) => {
                    (0..count).map(|_| Outcome::NotLeader(to.clone())).collect()
                }
                Err(e) => {
                    let e = StoreError::Unavailable(e.to_string());
                    (0..count).map(|_| Outcome::Done(Err(e.clone()))).collect()
                }
            };
            for (waiter, outcome) in waiters.into_iter().zip(outcomes) {
                let _ = waiter.send(outcome);
            }
            drop(slot);
        });
    }
}
