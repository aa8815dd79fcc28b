//! The spool's write end, shared by every session: [`Tail`] appends records
//! to the active segment with one `write()` each call, under a short lock,
//! *in the caller's thread*. A session records a share's event before it
//! writes the miner's answer, so once a miner has seen an answer the event
//! is in the kernel's page cache: a SIGKILL of the data plane cannot lose it
//! (a power loss can lose what was not yet fsynced; see [`SyncWork`]).
//!
//! The reader end ([`super::Spool`]) learns what was appended through
//! [`Tail::take_news`] and is woken at most once per arming
//! ([`Tail::arm`]), so a burst of shares costs one wake-up of the shipper,
//! not one per share.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use prost::Message;
use switchyard_proto::v1::ShareEvent;
use tokio::sync::Notify;

use super::record::{self, SyncWork, seg_path};

/// A segment's number and valid length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) seq: u64,
    pub(crate) len: u64,
}

/// What happened to the events of one [`Tail::append`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Written (durable against a SIGKILL).
    pub stored: usize,
    /// Refused: the spool is at `max_bytes`, or the event is empty or larger
    /// than a record may be.
    pub refused: usize,
}

/// The shared write end; see the module doc.
#[derive(Debug)]
pub struct Tail {
    state: Mutex<TailState>,
    armed: AtomicBool,
    news: Notify,
}

#[derive(Debug)]
pub(crate) struct TailState {
    dir: PathBuf,
    writer: File,
    /// The active segment.
    pub(crate) active: Segment,
    /// Segments closed since the reader last looked, with final lengths.
    pub(crate) sealed: Vec<Segment>,
    /// Bytes of every segment file on disk (what `max_bytes` bounds).
    pub(crate) bytes: u64,
    max_bytes: u64,
    pub(crate) segment_bytes: u64,
    /// Records appended since the reader last looked.
    pub(crate) appended: u64,
    /// Events refused since open.
    pub(crate) refused: u64,
    dirty: Vec<File>,
    active_dirty: bool,
    dir_dirty: bool,
}

impl Tail {
    /// The write end over the active segment `active` (opened for append),
    /// with `bytes` already on disk in all segments.
    pub(crate) fn open(
        dir: &Path,
        active: Segment,
        bytes: u64,
        max_bytes: u64,
        segment_bytes: u64,
        dir_dirty: bool,
    ) -> io::Result<Tail> {
        let writer = OpenOptions::new()
            .append(true)
            .open(seg_path(dir, active.seq))?;
        let state = TailState {
            dir: dir.to_path_buf(),
            writer,
            active,
            sealed: Vec::new(),
            bytes,
            max_bytes,
            segment_bytes,
            appended: 0,
            refused: 0,
            dirty: Vec::new(),
            active_dirty: false,
            dir_dirty,
        };
        Ok(Tail {
            state: Mutex::new(state),
            armed: AtomicBool::new(false),
            news: Notify::new(),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, TailState> {
        // A panic while holding the lock leaves consistent state (every
        // field is updated after its write succeeded): keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends `evs` with one `write()`: those that fit under `max_bytes`
    /// are stored, the others refused. On an I/O error nothing is stored.
    /// Wakes the reader if it asked to be woken.
    pub fn append(&self, evs: &[ShareEvent]) -> io::Result<Appended> {
        let mut buf = Vec::with_capacity(evs.iter().map(|e| e.encoded_len() + 8).sum());
        let mut lens = Vec::with_capacity(evs.len());
        for ev in evs {
            let before = buf.len();
            if record::encode(ev, &mut buf) {
                lens.push((buf.len() - before) as u64);
            }
        }
        let r = self.lock().write(&buf, &lens, evs.len());
        if r.as_ref().is_ok_and(|a| a.stored > 0) && self.armed.swap(false, Ordering::AcqRel) {
            self.news.notify_one();
        }
        r
    }

    /// Asks for one wake-up ([`Tail::news`]) at the next append.
    pub(crate) fn arm(&self) {
        self.armed.store(true, Ordering::Release);
    }

    /// Completes after an append that followed [`Tail::arm`] (or at once if
    /// one already happened).
    pub(crate) async fn news(&self) {
        self.news.notified().await;
    }

    /// Whether anything was written since the last [`Tail::take_sync`].
    pub(crate) fn unsynced(&self) -> bool {
        let t = self.lock();
        t.active_dirty || t.dir_dirty || !t.dirty.is_empty()
    }

    /// What to fsync now.
    pub(crate) fn take_sync(&self) -> io::Result<SyncWork> {
        self.lock().take_sync()
    }
}

impl TailState {
    /// Writes the encoded records `buf` (their lengths in `lens`; `total`
    /// events were offered) as far as they fit.
    fn write(&mut self, buf: &[u8], lens: &[u64], total: usize) -> io::Result<Appended> {
        if self.active.len >= self.segment_bytes {
            self.rotate()?;
        }
        let room = self.max_bytes.saturating_sub(self.bytes);
        let (mut take, mut n) = (0u64, 0usize);
        for &l in lens {
            if take + l > room {
                break;
            }
            take += l;
            n += 1;
        }
        let refused = total - n;
        self.refused += refused as u64;
        if n == 0 {
            return Ok(Appended { stored: 0, refused });
        }
        let start = self.active.len;
        if let Err(e) = self.writer.write_all(&buf[..take as usize]) {
            self.refused -= refused as u64;
            let _ = self.writer.set_len(start);
            return Err(e);
        }
        self.active.len += take;
        self.bytes += take;
        self.active_dirty = true;
        self.appended += n as u64;
        Ok(Appended { stored: n, refused })
    }

    /// Closes the active segment and starts the next one.
    pub(crate) fn rotate(&mut self) -> io::Result<()> {
        let seq = self.active.seq + 1;
        let f = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(seg_path(&self.dir, seq))?;
        let old = std::mem::replace(&mut self.writer, f);
        if std::mem::take(&mut self.active_dirty) {
            self.dirty.push(old);
        }
        self.dir_dirty = true;
        self.sealed.push(self.active);
        self.active = Segment { seq, len: 0 };
        Ok(())
    }

    fn take_sync(&mut self) -> io::Result<SyncWork> {
        let mut w = SyncWork {
            files: std::mem::take(&mut self.dirty),
            dir: None,
        };
        if self.active_dirty {
            w.files.push(self.writer.try_clone()?);
            self.active_dirty = false;
        }
        if std::mem::take(&mut self.dir_dirty) {
            w.dir = Some(File::open(&self.dir)?);
        }
        Ok(w)
    }
}
