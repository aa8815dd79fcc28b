//! Compiles the .proto files with the pure-Rust `protox` (no protoc needed)
//! and generates the tonic clients and servers from the descriptors.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["switchyard/v1/admin.proto", "switchyard/v1/dataplane.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
