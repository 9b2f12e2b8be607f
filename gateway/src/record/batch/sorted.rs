//! A batch's writes, sorted into what one statement can do for many, and their answers.

use crate::record::{NewMessage, Recorded, Status, StoreError};
use contract::message::MessageId;
use time::OffsetDateTime;
use tokio::sync::oneshot;

pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One request's write.
pub enum Write {
    Record {
        msg: Box<NewMessage>,
        lease_until: OffsetDateTime,
        reply: Reply<Recorded>,
    },
    MarkQueued {
        id: MessageId,
        reply: Reply<bool>,
    },
    Advance {
        id: MessageId,
        status: Status,
        reason: Option<String>,
        reply: Reply<bool>,
    },
    /// Nothing to write: answered once the batch it joins has been tried.
    Settle {
        reply: Reply<()>,
    },
}

/// The writes of a batch sorted into what one statement can do for many: the records, the
/// queued marks, and the moves to one status for one reason (in the order each first
/// came). Writes that race have no order of their own; this is one order they could have
/// come in.
#[derive(Default)]
pub(super) struct Sorted {
    pub(super) records: Vec<(Box<NewMessage>, OffsetDateTime)>,
    pub(super) recorded: Vec<Reply<Recorded>>,
    pub(super) queued: Vec<MessageId>,
    pub(super) marked: Vec<Reply<bool>>,
    pub(super) moves: Vec<Move>,
    pub(super) settled: Vec<Reply<()>>,
}

/// Moves of messages to one status for one reason.
pub(super) struct Move {
    pub(super) status: Status,
    pub(super) reason: Option<String>,
    pub(super) ids: Vec<MessageId>,
    pub(super) replies: Vec<Reply<bool>>,
}

impl Sorted {
    /// How many writes it holds.
    pub(super) fn len(&self) -> usize {
        self.recorded.len()
            + self.marked.len()
            + self.moves.iter().map(|m| m.ids.len()).sum::<usize>()
    }

    pub(super) fn of(batch: Vec<Write>) -> Self {
        let mut sorted = Self::default();
        for write in batch {
            match write {
                Write::Record {
                    msg,
                    lease_until,
                    reply,
                } => {
                    sorted.records.push((msg, lease_until));
                    sorted.recorded.push(reply);
                }
                Write::MarkQueued { id, reply } => {
                    sorted.queued.push(id);
                    sorted.marked.push(reply);
                }
                Write::Advance {
                    id,
                    status,
                    reason,
                    reply,
                } => {
                    let at = sorted
                        .moves
                        .iter()
                        .position(|m| m.status == status && m.reason == reason);
                    let at = at.unwrap_or_else(|| {
                        sorted.moves.push(Move {
                            status,
                            reason,
                            ids: Vec::new(),
                            replies: Vec::new(),
                        });
                        sorted.moves.len() - 1
                    });
                    sorted.moves[at].ids.push(id);
                    sorted.moves[at].replies.push(reply);
                }
                Write::Settle { reply } => sorted.settled.push(reply),
            }
        }
        sorted
    }

    /// The replies, each with its answer.
    pub(super) fn answer(self, answers: Answers) {
        send_settled(self.settled);
        send(self.recorded, answers.recorded);
        send(self.marked, answers.marked);
        for (m, moved) in self.moves.into_iter().zip(answers.moved) {
            send(m.replies, moved);
        }
    }

    /// Every reply, with the failure of the batch.
    pub(super) fn fail(self, error: &StoreError) {
        send_settled(self.settled);
        let failed = || StoreError::Batch {
            why: error.to_string(),
            unavailable: error.is_unavailable(),
        };
        for reply in self.recorded {
            let _ = reply.send(Err(failed()));
        }
        let moved = self.moves.into_iter().flat_map(|m| m.replies);
        for reply in self.marked.into_iter().chain(moved) {
            let _ = reply.send(Err(failed()));
        }
    }
}

/// What a committed batch answers, in the order of [`Sorted`].
pub(super) struct Answers {
    pub(super) recorded: Vec<Recorded>,
    pub(super) marked: Vec<bool>,
    pub(super) moved: Vec<Vec<bool>>,
}

fn send<T>(replies: Vec<Reply<T>>, answers: Vec<T>) {
    for (reply, answer) in replies.into_iter().zip(answers) {
        let _ = reply.send(Ok(answer));
    }
}

/// Answers each of `replies` with nothing: a settle once its batch has been tried,
/// whether or not it committed.
fn send_settled(replies: Vec<Reply<()>>) {
    for reply in replies {
        let _ = reply.send(Ok(()));
    }
}
