//! What the control-plane link keeps in `state_dir` across restarts: the
//! data plane's stable id (a UUIDv7 in `dataplane-id`) and the last routing
//! plan (`plan.pb`, prost-encoded, written atomically: temp file, fsync,
//! rename, fsync of the directory), plus the rule deciding whether a plan
//! received from the control plane replaces the one held. A plan persisted
//! in another contract's format (by this data plane before an upgrade) is
//! ignored with a log line naming why.

use std::io::Write;
use std::path::{Path, PathBuf};

use prost::Message;
use switchyard_proto::CONTRACT_VERSION;
use switchyard_proto::v1::RoutingPlan;

/// The file holding the data plane's id.
pub const ID_FILE: &str = "dataplane-id";
/// The file holding the last plan received.
pub const PLAN_FILE: &str = "plan.pb";

/// The id kept in `dir`, or a new UUIDv7 written there.
pub fn load_or_create_id(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join(ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            let id = s.trim();
            if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
                anyhow::bail!(
                    "{}: {id:?} is not a valid data-plane id (at most 128 printable characters); \
                     delete the file to get a new one",
                    path.display()
                );
            }
            Ok(id.to_string())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = uuid::Uuid::now_v7().to_string();
            write_atomic(&path, format!("{id}\n").as_bytes())
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            tracing::info!(dataplane = %id, file = %path.display(), "created the data-plane id");
            Ok(id)
        }
        Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
    }
}

/// The plan persisted in `dir`, if any; an unreadable one, or one in
/// another contract's format, is logged and skipped.
pub fn load_plan(dir: &Path) -> Option<RoutingPlan> {
    let path = dir.join(PLAN_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot read the persisted routing plan; starting without one");
            return None;
        }
    };
    match RoutingPlan::decode(bytes.as_slice()) {
        // Contract 2 plans (no split) read as well as this contract's.
        Ok(p) if p.version > 0 && switchyard_proto::contract::plan_refusal(&p).is_some() => {
            let from = if p.contract_version < CONTRACT_VERSION {
                "by this data plane before its upgrade"
            } else {
                "by a newer data plane (downgraded?)"
            };
            tracing::warn!(
                file = %path.display(),
                version = p.version,
                plan_contract = p.contract_version,
                contract = CONTRACT_VERSION,
                "the persisted routing plan was written {from} in another contract's format; ignored: waiting for the control plane's plan"
            );
            None
        }
        Ok(p) if p.version > 0 => Some(p),
        Ok(_) => {
            tracing::warn!(file = %path.display(), "the persisted routing plan has no version; ignored");
            None
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "the persisted routing plan is corrupt; ignored");
            None
        }
    }
}

/// Persists `plan` in `dir` atomically (blocking: call from `spawn_blocking`).
pub fn save_plan(dir: &Path, plan: &RoutingPlan) -> std::io::Result<()> {
    write_atomic(&dir.join(PLAN_FILE), &plan.encode_to_vec())
}

/// Writes `path` through a temporary file in the same directory: fsync, rename, fsync the directory.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = PathBuf::from(path);
    tmp.as_mut_os_string().push(".tmp");
    {
        // The plan holds the pools' passwords: readable by the owner only
        // (the mode applies to a new file, so a leftover one goes first).
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// What to do with a plan received from the control plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The plan held already: nothing to do.
    Keep,
    /// Replace the held plan; log the warning if there is one.
    Accept(Option<String>),
    /// Older than the held plan on a running stream: drop it (with this warning).
    Ignore(String),
}

/// Whether `new` replaces `held`. `fresh` is true for the first plan of a
/// new stream: a version lower than held there means the control plane's
/// database was replaced, and the control plane is the source of truth.
pub fn judge(held: Option<&RoutingPlan>, new: &RoutingPlan, fresh: bool) -> Verdict {
    let Some(held) = held else {
        return Verdict::Accept(None);
    };
    if held.site != new.site {
        return Verdict::Accept(Some(format!(
            "the routing plan is now for site {:?} (was {:?}): the site token changed",
            new.site, held.site
        )));
    }
    if new.version > held.version {
        return Verdict::Accept(None);
    }
    if new.version == held.version {
        return if same_content(held, new) {
            Verdict::Keep
        } else {
            Verdict::Accept(Some(format!(
                "the control plane sent different content under the held plan version {}: its database was replaced?",
                new.version
            )))
        };
    }
    if fresh {
        Verdict::Accept(Some(format!(
            "the control plane's plan version went back from {} to {}: its database was replaced? following it",
            held.version, new.version
        )))
    } else {
        Verdict::Ignore(format!(
            "ignored routing plan version {} older than the held version {}",
            new.version, held.version
        ))
    }
}

/// Equal but for the generation time.
fn same_content(a: &RoutingPlan, b: &RoutingPlan) -> bool {
    let mut b = b.clone();
    b.generated_at_unix_ms = a.generated_at_unix_ms;
    *a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(site: &str, version: u64, tz: &str) -> RoutingPlan {
        RoutingPlan {
            site: site.into(),
            version,
            timezone: tz.into(),
            generated_at_unix_ms: version as i64,
            contract_version: CONTRACT_VERSION,
            ..RoutingPlan::default()
        }
    }

    #[test]
    fn judges_versions_sites_and_fresh_streams() {
        let held = plan("a", 5, "UTC");
        assert_eq!(judge(None, &held, false), Verdict::Accept(None));
        assert_eq!(
            judge(Some(&held), &plan("a", 6, "UTC"), false),
            Verdict::Accept(None)
        );
        let mut same = held.clone();
        same.generated_at_unix_ms = 99;
        assert_eq!(judge(Some(&held), &same, true), Verdict::Keep);
        assert!(matches!(
            judge(Some(&held), &plan("a", 5, "Europe/Berlin"), true),
            Verdict::Accept(Some(_))
        ));
        assert!(matches!(
            judge(Some(&held), &plan("a", 3, "UTC"), false),
            Verdict::Ignore(_)
        ));
        assert!(matches!(
            judge(Some(&held), &plan("a", 3, "UTC"), true),
            Verdict::Accept(Some(_))
        ));
        assert!(matches!(
            judge(Some(&held), &plan("b", 1, "UTC"), false),
            Verdict::Accept(Some(_))
        ));
    }

    #[test]
    fn id_and_plan_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let id = load_or_create_id(dir.path()).unwrap();
        assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
        assert_eq!(load_or_create_id(dir.path()).unwrap(), id);
        assert!(load_plan(dir.path()).is_none());
        let p = plan("a", 7, "UTC");
        save_plan(dir.path(), &p).unwrap();
        assert_eq!(load_plan(dir.path()), Some(p));
        std::fs::write(dir.path().join(PLAN_FILE), b"\xff\xff\xff").unwrap();
        assert!(load_plan(dir.path()).is_none());
    }

    /// A plan.pb written by a contract-1 data plane: the fields of
    /// Switchyard 0.1 (an AlgorithmPlan's algorithm as the string field 1,
    /// the settings as YAML text in field 1, no contract version).
    fn contract_1_plan() -> Vec<u8> {
        use prost::encoding::{WireType, encode_key, encode_varint, string, uint64};
        fn message(tag: u32, body: &[u8], buf: &mut Vec<u8>) {
            encode_key(tag, WireType::LengthDelimited, buf);
            encode_varint(body.len() as u64, buf);
            buf.extend_from_slice(body);
        }
        let mut algorithm = Vec::new();
        string::encode(1, &"sha256".to_string(), &mut algorithm);
        string::encode(2, &"btc".to_string(), &mut algorithm);
        let mut settings = Vec::new();
        string::encode(1, &"global: {}\n".to_string(), &mut settings);
        let mut plan = Vec::new();
        string::encode(1, &"default".to_string(), &mut plan);
        uint64::encode(2, &41, &mut plan);
        message(8, &algorithm, &mut plan);
        message(10, &settings, &mut plan);
        plan
    }

    #[test]
    fn a_plan_persisted_in_the_older_format_is_ignored_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let old = contract_1_plan();
        let decoded = RoutingPlan::decode(old.as_slice()).expect("decodes: new field numbers");
        assert_eq!((decoded.version, decoded.contract_version), (41, 0));
        std::fs::write(dir.path().join(PLAN_FILE), &old).unwrap();
        assert_eq!(load_plan(dir.path()), None);
        let mut newer = plan("a", 3, "UTC");
        newer.contract_version = CONTRACT_VERSION + 1;
        save_plan(dir.path(), &newer).unwrap();
        assert_eq!(load_plan(dir.path()), None, "a downgrade ignores it too");
        // A plan without a split is written in contract 2 and read back.
        let mut two = plan("a", 4, "UTC");
        two.contract_version = switchyard_proto::contract::OLDEST_COMPATIBLE;
        save_plan(dir.path(), &two).unwrap();
        assert_eq!(load_plan(dir.path()), Some(two));
    }
}
