//! A miner session's inbox of pool answers: bounded, one reader (the
//! session), any number of writers (the upstreams it forwarded to).
//!
//! Written here rather than taken from `tokio::sync::mpsc` for its size: a
//! tokio channel allocates about 800 bytes when it is created (a
//! cache-padded shared state and its first block of slots), which every
//! idle miner kept. This one is one small allocation; its queue is
//! allocated at the first answer and given back whenever it is empty, so an
//! idle miner holds about 100 bytes for it. Answers are rare per miner (one
//! per share), so a plain mutex is uncontended.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// The writing side; cheap to clone.
pub struct InboxSender<T>(Arc<Shared<T>>);

/// The session's reading side. Dropping it closes the inbox.
pub struct InboxReceiver<T>(Arc<Shared<T>>);

/// Why an item was not queued (the item comes back).
#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The reader is this many items behind.
    Full(T),
    /// The reader is gone.
    Closed(T),
}

struct Shared<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    items: VecDeque<T>,
    capacity: u32,
    closed: bool,
    reader: Option<Waker>,
}

/// An inbox holding at most `capacity` items.
pub fn inbox<T>(capacity: usize) -> (InboxSender<T>, InboxReceiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            capacity: u32::try_from(capacity.max(1)).unwrap_or(u32::MAX),
            closed: false,
            reader: None,
        }),
    });
    (InboxSender(shared.clone()), InboxReceiver(shared))
}

impl<T> Shared<T> {
    /// A poisoned lock is taken over: the state is a queue and two flags,
    /// never left half-updated by a panicking holder.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T> Clone for InboxSender<T> {
    fn clone(&self) -> Self {
        InboxSender(self.0.clone())
    }
}

impl<T> std::fmt::Debug for InboxSender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InboxSender")
    }
}

impl<T> InboxSender<T> {
    /// Queues `item` and wakes the reader; never waits.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        let waker = {
            let mut s = self.0.lock();
            if s.closed {
                return Err(TrySendError::Closed(item));
            }
            if s.items.len() >= s.capacity as usize {
                return Err(TrySendError::Full(item));
            }
            s.items.push_back(item);
            s.reader.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// The reader is gone.
    pub fn is_closed(&self) -> bool {
        self.0.lock().closed
    }
}

impl<T> InboxReceiver<T> {
    /// The next item, waiting for one. Cancel-safe: an item is only taken
    /// when it is returned.
    pub async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut s = self.0.lock();
        if let Some(item) = pop(&mut s) {
            return Poll::Ready(Some(item));
        }
        if s.closed {
            return Poll::Ready(None);
        }
        match &mut s.reader {
            Some(w) if w.will_wake(cx.waker()) => {}
            w => *w = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The next item if one is queued.
    pub fn try_recv(&mut self) -> Option<T> {
        pop(&mut self.0.lock())
    }

    /// Refuses every later item (`TrySendError::Closed`); queued ones can
    /// still be taken with [`InboxReceiver::try_recv`].
    pub fn close(&mut self) {
        let mut s = self.0.lock();
        s.closed = true;
        s.reader = None;
    }
}

/// Takes the oldest item; an emptied queue gives its memory back.
fn pop<T>(s: &mut State<T>) -> Option<T> {
    let item = s.items.pop_front()?;
    if s.items.is_empty() {
        s.items = VecDeque::new();
    }
    Some(item)
}

impl<T> Drop for InboxReceiver<T> {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_ordered_and_closed_by_the_reader() {
        let (tx, mut rx) = inbox(2);
        assert_eq!(tx.try_send(1), Ok(()));
        assert_eq!(tx.clone().try_send(2), Ok(()));
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        assert_eq!(rx.try_recv(), Some(1));
        assert_eq!(tx.try_send(3), Ok(()));
        rx.close();
        assert!(tx.is_closed());
        assert_eq!(tx.try_send(4), Err(TrySendError::Closed(4)));
        // Queued items survive the close.
        assert_eq!(rx.try_recv(), Some(2));
        assert_eq!(rx.try_recv(), Some(3));
        assert_eq!(rx.try_recv(), None);
        drop(rx);
        assert_eq!(tx.try_send(5), Err(TrySendError::Closed(5)));
    }

    #[test]
    fn an_emptied_queue_gives_its_memory_back() {
        let (tx, mut rx) = inbox(8);
        tx.try_send(1u64).unwrap();
        tx.try_send(2).unwrap();
        assert!(rx.0.lock().items.capacity() > 0);
        rx.try_recv();
        rx.try_recv();
        assert_eq!(rx.0.lock().items.capacity(), 0);
    }

    #[tokio::test]
    async fn the_reader_is_woken_by_a_writer_on_another_task() {
        let (tx, mut rx) = inbox(4);
        let writer = tokio::spawn(async move {
            tokio::task::yield_now().await;
            tx.try_send("answer").unwrap();
            tx
        });
        assert_eq!(rx.recv().await, Some("answer"));
        let tx = writer.await.unwrap();
        drop(rx);
        assert!(tx.is_closed());
    }

    #[tokio::test]
    async fn a_closed_empty_inbox_ends_the_reader() {
        let (_tx, mut rx) = inbox::<u8>(4);
        rx.close();
        assert_eq!(rx.recv().await, None);
    }
}
