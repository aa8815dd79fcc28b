//! Compiles the .proto files with the pure-Rust `protox` (no protoc needed)
//! and generates the tonic clients and servers from the descriptors, without
//! the derived `Debug` of the messages that hold secrets (src/redact.rs),
//! writes the encoded descriptor set for server reflection, and generates
//! the messages' serde in protobuf's JSON mapping (pbjson) for the web view.

const SECRET_HOLDERS: [&str; 7] = [
    ".switchyard.v1.AddSiteResponse",
    ".switchyard.v1.SiteToken",
    ".switchyard.v1.UpdatePoolRequest",
    ".switchyard.v1.PoolSettings",
    ".switchyard.v1.ImportConfigRequest",
    ".switchyard.v1.ExportConfigResponse",
    ".switchyard.v1.ValidateConfigRequest",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "switchyard/v1/types.proto",
        "switchyard/v1/admin.proto",
        "switchyard/v1/dataplane.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."])?;
    // The descriptors themselves, for gRPC server reflection.
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let encoded = prost::Message::encode_to_vec(&fds);
    std::fs::write(out.join("switchyard_descriptor.bin"), &encoded)?;
    pbjson_build::Builder::new()
        .register_descriptors(&encoded)?
        .build(&[".switchyard.v1"])?;
    tonic_prost_build::configure()
        // Messages holding a password, a token or a config file: their
        // `Debug` is written by hand in src/redact.rs, with the secret masked.
        .skip_debug(SECRET_HOLDERS)
        .compile_fds(fds)?;
    Ok(())
}
