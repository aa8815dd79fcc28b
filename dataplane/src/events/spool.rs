//! The on-disk spool of share events not yet acknowledged by the control plane.
//!
//! Layout of the spool directory:
//! - `seg-<seq, 20 digits>.log`: append-only segments, each a run of records
//!   `[len: u32 LE][crc32: u32 LE][len bytes: protobuf ShareEvent]`, the CRC
//!   covering the length bytes and the payload. A new segment is started by
//!   the first append after the active one reached its target size
//!   (`max_bytes / 8`, at most 4 MiB), and eagerly once every event of a
//!   non-trivial active segment is acknowledged.
//! - `acked`: the acknowledgement cursor (segment, offset) with a CRC,
//!   replaced atomically (write + rename); every record before it was
//!   acknowledged, so a restart resends nothing before it. Segments wholly
//!   before it are deleted. It is not fsynced: losing it only causes resends,
//!   which the control plane ignores (duplicate ids).
//!
//! Recovery ([`Spool::open`]) scans every segment: a torn or corrupt record
//! (a SIGKILL mid-write, a power loss) ends its segment, which is truncated
//! there with a warning; everything before it survives.
//!
//! Two ends: the [`Tail`] (shared by the sessions, see its module) appends
//! with one `write()` per call in the recording session's thread, before
//! the miner is answered, so a killed process loses nothing a miner saw
//! answered; data reaches the disk at the next [`SyncWork::run`] (the
//! shipper runs it at most every 100 ms, off the async threads), so a power
//! loss can lose the last ~100 ms of events. The [`Spool`] (the shipper's)
//! reads, hands out and retires; it learns of appends in
//! [`Spool::refresh`].
//!
//! Formats: records written before contract 2 (by an older data plane)
//! hold the events' strings; they are read into the typed fields as they
//! are handed out ([`contract::upgrade_event`]), so an upgrade loses none.
//!
//! The spool holds no events in memory, only the ids of the batch in flight.
//! Ordering: [`Spool::next_batch`] hands out unacknowledged events oldest
//! first, each once; [`Spool::ack`] retires them; [`Spool::rewind`] makes
//! every unacknowledged one in flight eligible again (after a failed send).

use std::collections::{HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prost::Message;
use switchyard_proto::contract;
use switchyard_proto::v1::ShareEvent;

pub use super::record::SyncWork;
use super::record::{self, HEADER, Pos, list_segments, read_ack, scan, seg_path, write_ack};
use super::tail::{Segment, Tail};

const MAX_SEGMENT: u64 = 4 << 20;

/// A record handed out (or skipped) and not yet behind the ack cursor.
#[derive(Debug)]
struct Entry {
    id: String,
    end: Pos,
    acked: bool,
}

/// The spool's reader end (the shipper's); see the module doc.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    /// The write end, shared with the sessions' [`super::EventSink`].
    tail: Arc<Tail>,
    /// Oldest first; never empty; the last is the active one as of the
    /// last [`Spool::refresh`].
    segments: VecDeque<Segment>,
    /// Bytes on disk and events refused, as of the last refresh.
    bytes: u64,
    refused: u64,
    ack: Pos,
    read: Pos,
    /// Records at or after `read` (kept exact, re-synced when caught up).
    unsent: u64,
    inflight: VecDeque<Entry>,
    /// Ids acknowledged beyond the ack cursor before a rewind: not resent.
    skip: HashSet<String>,
}

impl Spool {
    /// Opens (creating) the spool in `dir`, recovering after a crash.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Spool> {
        fs::create_dir_all(dir)?;
        let mut seqs = list_segments(dir)?;
        let mut ack = read_ack(dir).unwrap_or_default();
        // Wholly acknowledged segments: the crash came before their deletion.
        seqs.retain(|&seq| seq >= ack.seq || fs::remove_file(seg_path(dir, seq)).is_err());
        if seqs.first() != Some(&ack.seq) {
            ack = Pos {
                seq: seqs.first().copied().unwrap_or(ack.seq.max(1)),
                off: 0,
            };
        }
        let mut segments = VecDeque::new();
        let mut unsent = 0;
        for &seq in &seqs {
            let path = seg_path(dir, seq);
            let data = fs::read(&path)?;
            let from = if seq == ack.seq { ack.off } else { 0 };
            let (valid, after, boundary) = scan(&data, from);
            if valid < data.len() as u64 {
                tracing::warn!(segment = %path.display(), valid, skipped = data.len() as u64 - valid,
                    "share spool: torn or corrupt tail skipped (truncated)");
                OpenOptions::new().write(true).open(&path)?.set_len(valid)?;
            }
            if seq == ack.seq {
                ack.off = boundary;
            }
            unsent += after;
            segments.push_back(Segment { seq, len: valid });
        }
        let mut dir_dirty = false;
        if segments.is_empty() {
            File::create_new(seg_path(dir, ack.seq))?;
            segments.push_back(Segment {
                seq: ack.seq,
                len: 0,
            });
            dir_dirty = true;
        }
        let active = segments.back().copied().unwrap_or(Segment {
            seq: ack.seq,
            len: 0,
        });
        let bytes = segments.iter().map(|s| s.len).sum();
        let segment_bytes = (max_bytes / 8).clamp(4096, MAX_SEGMENT);
        let tail = Tail::open(dir, active, bytes, max_bytes, segment_bytes, dir_dirty)?;
        Ok(Spool {
            dir: dir.to_path_buf(),
            tail: Arc::new(tail),
            segments,
            bytes,
            refused: 0,
            ack,
            read: ack,
            unsent,
            inflight: VecDeque::new(),
            skip: HashSet::new(),
        })
    }

    /// The write end, for [`super::EventSink`]s.
    pub fn tail(&self) -> &Arc<Tail> {
        &self.tail
    }

    /// Takes in what was appended since the last call (new records, sealed
    /// segments, the active one's length); returns how many new records.
    pub fn refresh(&mut self) -> u64 {
        let mut guard = self.tail.lock();
        let t = &mut *guard;
        for s in t.sealed.drain(..).chain(std::iter::once(t.active)) {
            match self.segments.back_mut() {
                Some(b) if b.seq == s.seq => b.len = s.len,
                _ => self.segments.push_back(s),
            }
        }
        self.bytes = t.bytes;
        self.refused = t.refused;
        let new = std::mem::take(&mut t.appended);
        self.unsent += new;
        new
    }

    /// Bytes of segment files on disk (what `max_bytes` bounds).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Unacknowledged events (in flight or not yet handed out).
    pub fn len(&self) -> u64 {
        self.unsent.saturating_sub(self.skip.len() as u64) + self.in_flight() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Events not yet handed out by `next_batch`.
    pub fn unsent(&self) -> u64 {
        self.unsent
    }

    /// Events handed out and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.inflight.iter().filter(|e| !e.acked).count()
    }

    /// Events refused by `append` since open (spool full, or unencodable).
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Segment files on disk.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Appends events (see [`Tail::append`]) and takes them in; returns
    /// how many were stored.
    pub fn append(&mut self, evs: &[ShareEvent]) -> io::Result<usize> {
        let r = self.tail.append(evs);
        self.refresh();
        Ok(r?.stored)
    }

    /// What to fsync now (see [`SyncWork`]).
    pub fn take_sync(&self) -> io::Result<SyncWork> {
        self.tail.take_sync()
    }

    /// fsyncs in place.
    pub fn sync(&mut self) -> io::Result<()> {
        self.take_sync()?.run()
    }

    /// A position at the end of a non-active segment moves to the next one.
    fn normalize(&self, mut p: Pos) -> Pos {
        while let Some(i) = self.segments.iter().position(|s| s.seq == p.seq) {
            match self.segments.get(i + 1) {
                Some(next) if p.off >= self.segments[i].len => {
                    p = Pos {
                        seq: next.seq,
                        off: 0,
                    }
                }
                _ => break,
            }
        }
        p
    }

    /// Up to `max` unacknowledged events not in flight, oldest first; they
    /// are in flight until acknowledged or rewound.
    pub fn next_batch(&mut self, max: usize) -> io::Result<Vec<ShareEvent>> {
        self.refresh();
        let mut out = Vec::new();
        while out.len() < max {
            self.read = self.normalize(self.read);
            let end = match self.segments.iter().find(|s| s.seq == self.read.seq) {
                Some(s) => s.len,
                None => break,
            };
            if self.read.off >= end {
                self.unsent = 0; // caught up with the writer
                break;
            }
            self.read_segment(&mut out, max, end)?;
        }
        self.advance();
        Ok(out)
    }

    fn read_segment(&mut self, out: &mut Vec<ShareEvent>, max: usize, end: u64) -> io::Result<()> {
        let seq = self.read.seq;
        let mut f = BufReader::with_capacity(64 << 10, File::open(seg_path(&self.dir, seq))?);
        f.seek(SeekFrom::Start(self.read.off))?;
        let mut off = self.read.off;
        let mut payload = Vec::new();
        while off < end && out.len() < max {
            let mut h = [0u8; 8];
            let mut len = 0;
            let mut ok = off + HEADER <= end && f.read_exact(&mut h).is_ok();
            if let Some(l) = record::payload_len(&h).filter(|l| ok && off + HEADER + l <= end) {
                len = l;
                payload.resize(l as usize, 0);
                ok = f.read_exact(&mut payload).is_ok() && record::check(&h, &payload);
            } else {
                ok = false;
            }
            if !ok {
                tracing::error!(
                    segment = seq,
                    offset = off,
                    "share spool: corrupt record; rest of the segment skipped"
                );
                self.push_entry(String::new(), Pos { seq, off: end }, true);
                self.read.off = end;
                return Ok(());
            }
            off += HEADER + len;
            let pos = Pos { seq, off };
            self.read.off = off;
            self.unsent = self.unsent.saturating_sub(1);
            match ShareEvent::decode(&payload[..]) {
                Ok(ev) if self.skip.remove(&ev.id) => self.push_entry(ev.id, pos, true),
                Ok(mut ev) => {
                    contract::upgrade_event(&mut ev);
                    self.push_entry(ev.id.clone(), pos, false);
                    out.push(ev);
                }
                Err(e) => {
                    tracing::error!(segment = seq, offset = off, error = %e, "share spool: undecodable record skipped");
                    self.push_entry(String::new(), pos, true);
                }
            }
        }
        Ok(())
    }

    fn push_entry(&mut self, id: String, end: Pos, acked: bool) {
        self.inflight.push_back(Entry { id, end, acked });
    }

    /// Retires the in-flight events named in `ids` (others are ignored);
    /// returns how many were newly acknowledged. Fully acknowledged segments
    /// are deleted. A failure to persist the cursor is logged (the acks still
    /// hold in memory; a restart may resend them).
    pub fn ack(&mut self, ids: &[String]) -> usize {
        let set: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut n = 0;
        for e in self.inflight.iter_mut().filter(|e| !e.acked) {
            if set.contains(e.id.as_str()) {
                e.acked = true;
                n += 1;
            }
        }
        self.advance();
        n
    }

    /// Every unacknowledged in-flight event becomes eligible again; those
    /// acknowledged out of order will not be handed out again.
    pub fn rewind(&mut self) {
        for e in self.inflight.drain(..) {
            if e.id.is_empty() {
                continue; // a skipped corrupt or undecodable record
            }
            self.unsent += 1;
            if e.acked {
                self.skip.insert(e.id);
            }
        }
        self.read = self.ack;
    }

    /// Moves the ack cursor over the acknowledged prefix, persists it,
    /// deletes segments wholly behind it.
    fn advance(&mut self) {
        if let Err(e) = self.try_advance() {
            tracing::error!(dir = %self.dir.display(), error = %e, "share spool: cannot persist acknowledgements");
        }
    }

    /// Deleting comes before persisting the cursor: on a full disk the
    /// cursor file cannot be written (ENOSPC), and the acknowledged
    /// segments must still go to make room. A cursor left behind only
    /// makes a restart resend (the control plane ignores duplicate ids).
    fn try_advance(&mut self) -> io::Result<()> {
        let before = self.ack;
        while let Some(end) = self.inflight.front().filter(|e| e.acked).map(|e| e.end) {
            self.inflight.pop_front();
            self.ack = end;
        }
        // Everything acknowledged: start afresh rather than keep a big dead segment.
        let end = self.segments.back().map(|s| Pos {
            seq: s.seq,
            off: s.len,
        });
        if end.is_some_and(|e| self.ack == e) {
            let mut t = self.tail.lock();
            // Unless an append came in meanwhile (then it is not all acked).
            let all_acked = t.active
                == (Segment {
                    seq: self.ack.seq,
                    len: self.ack.off,
                });
            if all_acked
                && t.active.len >= t.segment_bytes / 16
                && let Err(e) = t.rotate()
            {
                tracing::warn!(error = %e, "share spool: cannot start a new segment; the acknowledged one stays for now");
            }
            drop(t);
            self.refresh();
        }
        self.ack = self.normalize(self.ack);
        self.read = self.read.max(self.ack);
        let mut removed = Vec::new();
        while self.segments.front().is_some_and(|s| s.seq < self.ack.seq) {
            removed.extend(self.segments.pop_front());
        }
        if !removed.is_empty() {
            let mut t = self.tail.lock();
            t.bytes -= removed.iter().map(|s| s.len).sum::<u64>();
            self.bytes = t.bytes;
        }
        for Segment { seq, .. } in removed {
            if let Err(e) = fs::remove_file(seg_path(&self.dir, seq)) {
                tracing::warn!(segment = seq, error = %e, "share spool: cannot delete an acknowledged segment");
            }
        }
        if self.ack != before {
            write_ack(&self.dir, self.ack)?;
        }
        Ok(())
    }
}
