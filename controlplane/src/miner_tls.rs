//! TLS from miners in single-machine mode (`proxy.<algo>.tls_cert` /
//! `tls_key` in the config file): relative paths are taken beside the
//! config file, and `controlplane validate` reads the files the way the
//! embedded data plane will, so a wrong certificate or key is named before
//! a start.

use std::path::Path;

use switchyard_dataplane::miner_tls::MinerTls;
use switchyard_model::Algorithm;
use switchyard_model::config::Import;

/// Makes every listener's certificate and key path absolute, relative
/// paths taken from `config_dir`.
pub fn resolve_paths(import: &mut Import, config_dir: &Path) {
    for site in &mut import.sites {
        let p = &mut site.proxy;
        for l in [&mut p.sha256, &mut p.randomx, &mut p.zksnark] {
            for f in [&mut l.tls_cert, &mut l.tls_key].into_iter().flatten() {
                if Path::new(f.as_str()).is_relative() {
                    *f = config_dir.join(&*f).display().to_string();
                }
            }
        }
    }
}

/// A problem for every enabled listener whose certificate or key cannot be
/// used, named by its field.
pub fn problems(import: &Import) -> Vec<String> {
    let mut out = Vec::new();
    for site in &import.sites {
        for algorithm in Algorithm::ALL {
            let l = site.proxy.listener(algorithm);
            let (true, Some(cert), Some(key)) = (l.enabled, &l.tls_cert, &l.tls_key) else {
                continue;
            };
            if let Err(e) = MinerTls::load(Path::new(cert), Path::new(key)) {
                out.push(format!("proxy.{algorithm}.tls_cert: {e}"));
            }
        }
    }
    out
}
