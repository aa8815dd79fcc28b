//! The spool's on-disk formats: records `[len: u32 LE][crc32: u32 LE][payload]`,
//! the CRC-32 (IEEE) covering the length bytes and the payload so that a torn
//! or zero-filled tail (a crash mid-write) never reads as a record; segment
//! names; the ack file (a position and its CRC); and the fsync work.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use prost::Message;
use switchyard_proto::v1::ShareEvent;

const ACK_FILE: &str = "acked";
const ACK_TMP: &str = "acked.tmp";

pub(crate) const HEADER: u64 = 8;
/// Larger records are refused (and, read back, taken for corruption).
pub(crate) const MAX_RECORD: u64 = 1 << 20;

/// Appends the record of `ev` to `buf`; false (nothing written) when the
/// event is empty or larger than [`MAX_RECORD`].
pub(crate) fn encode(ev: &ShareEvent, buf: &mut Vec<u8>) -> bool {
    let len = ev.encoded_len() as u64;
    if len == 0 || len > MAX_RECORD {
        return false;
    }
    let start = buf.len();
    buf.extend_from_slice(&(len as u32).to_le_bytes());
    buf.extend_from_slice(&[0; 4]);
    ev.encode_raw(buf);
    let crc = crc32(&buf[start..start + 4], &buf[start + 8..]);
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    true
}

/// The payload length a header announces, if plausible.
pub(crate) fn payload_len(h: &[u8; 8]) -> Option<u64> {
    let len = u64::from(u32::from_le_bytes([h[0], h[1], h[2], h[3]]));
    (len > 0 && len <= MAX_RECORD).then_some(len)
}

/// Whether `payload` matches the header's checksum.
pub(crate) fn check(h: &[u8; 8], payload: &[u8]) -> bool {
    crc32(&h[..4], payload) == u32::from_le_bytes([h[4], h[5], h[6], h[7]])
}

/// Scans a segment: (valid length, records starting at or after `from`,
/// first record boundary at or after `from`, else the valid length).
pub(crate) fn scan(data: &[u8], from: u64) -> (u64, u64, u64) {
    let (mut off, mut after, mut boundary) = (0usize, 0, None);
    while let Some(end) = record_end(data, off) {
        if off as u64 >= from {
            after += 1;
            boundary.get_or_insert(off as u64);
        }
        off = end;
    }
    (off as u64, after, boundary.unwrap_or(off as u64))
}

/// The end of the valid record at `off`, if there is one.
fn record_end(data: &[u8], off: usize) -> Option<usize> {
    let h: &[u8; 8] = data.get(off..off + HEADER as usize)?.try_into().ok()?;
    let end = off + HEADER as usize + payload_len(h)? as usize;
    check(h, data.get(off + HEADER as usize..end)?).then_some(end)
}

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// CRC-32 (IEEE) of `a` followed by `b`.
pub(crate) fn crc32(a: &[u8], b: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in a.iter().chain(b) {
        c = CRC_TABLE[((c ^ u32::from(x)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

/// A byte position: segment `seq`, offset `off` (always a record boundary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Pos {
    pub(crate) seq: u64,
    pub(crate) off: u64,
}

/// Files (and the directory) written since the last sync; run it anywhere,
/// typically in `spawn_blocking`.
#[derive(Debug, Default)]
pub struct SyncWork {
    pub(crate) files: Vec<File>,
    pub(crate) dir: Option<File>,
}

impl SyncWork {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.dir.is_none()
    }

    /// fsyncs the written segments, then the directory if a segment was created.
    pub fn run(self) -> io::Result<()> {
        for f in &self.files {
            f.sync_data()?;
        }
        if let Some(d) = &self.dir {
            d.sync_all()?;
        }
        Ok(())
    }
}

pub(crate) fn seg_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("seg-{seq:020}.log"))
}

/// The segment numbers in `dir`, ascending.
pub(crate) fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut seqs = Vec::new();
    for e in fs::read_dir(dir)? {
        let name = e?.file_name();
        if let Some(seq) = name
            .to_string_lossy()
            .strip_prefix("seg-")
            .and_then(|s| s.strip_suffix(".log"))
            .and_then(|s| s.parse::<u64>().ok())
        {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

/// Replaces the ack file (write + rename, not fsynced: see the spool doc).
pub(crate) fn write_ack(dir: &Path, p: Pos) -> io::Result<()> {
    let mut b = [0u8; 20];
    b[..8].copy_from_slice(&p.seq.to_le_bytes());
    b[8..16].copy_from_slice(&p.off.to_le_bytes());
    let crc = crc32(&b[..16], &[]);
    b[16..].copy_from_slice(&crc.to_le_bytes());
    fs::write(dir.join(ACK_TMP), b)?;
    fs::rename(dir.join(ACK_TMP), dir.join(ACK_FILE))
}

/// The ack file's position; None when absent or unreadable.
pub(crate) fn read_ack(dir: &Path) -> Option<Pos> {
    let b = fs::read(dir.join(ACK_FILE)).ok()?;
    let ok = b.len() == 20 && crc32(&b[..16], &[]).to_le_bytes() == b[16..20];
    if !ok {
        tracing::warn!("share spool: ack file unreadable; unacknowledged events may be resent");
        return None;
    }
    let u = |r: &[u8]| u64::from_le_bytes(r.try_into().unwrap_or_default());
    Some(Pos {
        seq: u(&b[..8]),
        off: u(&b[8..16]),
    })
}
