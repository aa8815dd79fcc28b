//! Shared setup of the control-plane gRPC tests: a control plane on a
//! temporary database listening on 127.0.0.1:0, and tonic clients carrying
//! a token.

#![allow(dead_code)]

use std::path::Path;

use switchyard_controlplane::{ControlPlane, Options, admin_token_file};
use switchyard_model::config;
use switchyard_proto::v1::admin_client::AdminClient;
use switchyard_proto::v1::data_plane_client::DataPlaneClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub type Admin = AdminClient<InterceptedService<Channel, Auth>>;
pub type Dp = DataPlaneClient<InterceptedService<Channel, Auth>>;

#[derive(Clone)]
pub struct Auth(pub Option<String>);

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(t) = &self.0 {
            req.metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        req.metadata_mut().insert(
            switchyard_proto::CONTRACT_METADATA,
            switchyard_proto::CONTRACT_VERSION.into(),
        );
        Ok(req)
    }
}

pub struct Cp {
    pub cp: ControlPlane,
    pub admin: Admin,
    pub admin_token: String,
}

pub async fn start_with(dir: &Path, yaml: &str) -> Cp {
    let import = config::load(yaml, chrono_tz::Tz::UTC).expect("valid config");
    let database = dir.join("switchyard.db");
    let cp = ControlPlane::start(Options {
        config: import,
        database: database.clone(),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        local_tz: chrono_tz::Tz::UTC,
        tls: None,
    })
    .await
    .expect("control plane starts");
    let admin_token = std::fs::read_to_string(admin_token_file(&database))
        .unwrap()
        .trim()
        .to_string();
    let admin = admin_client(&cp, Some(admin_token.clone())).await;
    Cp {
        cp,
        admin,
        admin_token,
    }
}

pub async fn start(dir: &Path) -> Cp {
    start_with(dir, config::sample()).await
}

pub async fn channel(cp: &ControlPlane) -> Channel {
    Channel::from_shared(format!("http://{}", cp.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

pub async fn admin_client(cp: &ControlPlane, token: Option<String>) -> Admin {
    AdminClient::with_interceptor(channel(cp).await, Auth(token))
}

pub async fn dp_client(cp: &ControlPlane, token: &str) -> Dp {
    DataPlaneClient::with_interceptor(channel(cp).await, Auth(Some(token.to_string())))
}

/// The site token written for the sample config's default site.
pub fn default_site_token(dir: &Path) -> String {
    let p = switchyard_controlplane::site_token_file(&dir.join("switchyard.db"), "default");
    std::fs::read_to_string(p).unwrap().trim().to_string()
}
