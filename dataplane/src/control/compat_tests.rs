//! The link against a control plane that sends a plan of another contract
//! (a fake `DataPlane` service on loopback): the plan is refused with an
//! ack naming what to upgrade, and neither followed nor persisted.

use std::pin::Pin;
use std::sync::Arc;

use switchyard_proto::v1 as pb;
use switchyard_proto::v1::data_plane_server::{DataPlane, DataPlaneServer};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::config::ControlPlaneLink;

struct Fake {
    plan_contract: u32,
    acks: mpsc::UnboundedSender<pb::PlanAck>,
}

type Plans = Pin<Box<dyn Stream<Item = Result<pb::RoutingPlan, Status>> + Send>>;

#[tonic::async_trait]
impl DataPlane for Fake {
    async fn register(
        &self,
        r: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterResponse>, Status> {
        Ok(Response::new(pb::RegisterResponse {
            site: "farm".into(),
            dataplane_id: r.into_inner().dataplane_id,
            plan_version: 5,
            contract_version: switchyard_proto::CONTRACT_VERSION,
        }))
    }

    type WatchPlansStream = Plans;

    async fn watch_plans(
        &self,
        _: Request<pb::WatchPlansRequest>,
    ) -> Result<Response<Plans>, Status> {
        let plan = pb::RoutingPlan {
            site: "farm".into(),
            version: 5,
            contract_version: self.plan_contract,
            ..Default::default()
        };
        let stream =
            tokio_stream::StreamExt::chain(tokio_stream::iter([Ok(plan)]), tokio_stream::pending());
        Ok(Response::new(Box::pin(stream)))
    }

    async fn ack_plan(
        &self,
        r: Request<pb::PlanAck>,
    ) -> Result<Response<pb::PlanAckResponse>, Status> {
        let _ = self.acks.send(r.into_inner());
        Ok(Response::new(pb::PlanAckResponse {}))
    }

    async fn report_shares(
        &self,
        _: Request<pb::ShareBatch>,
    ) -> Result<Response<pb::ShareBatchAck>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn report_health(
        &self,
        _: Request<pb::HealthReport>,
    ) -> Result<Response<pb::HealthAck>, Status> {
        Ok(Response::new(pb::HealthAck {}))
    }
}

#[tokio::test]
async fn a_plan_of_an_older_contract_is_refused_naming_the_upgrade_not_followed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (acks_tx, mut acks) = mpsc::unbounded_channel();
    let fake = Fake {
        plan_contract: 0,
        acks: acks_tx,
    };
    let stop = CancellationToken::new();
    let server = tokio::spawn({
        let stop = stop.clone();
        tonic::transport::Server::builder()
            .add_service(DataPlaneServer::new(fake))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async move { stop.cancelled().await },
            )
    });
    let dir = tempfile::tempdir().unwrap();
    let link = ControlPlaneLink {
        endpoint: Some(format!("http://{addr}")),
        token: Some("t".into()),
        state_dir: dir.path().display().to_string(),
        ..ControlPlaneLink::default()
    };
    let shutdown = CancellationToken::new();
    let l = Arc::new(
        super::start(&link, "9.9.9", shutdown.clone())
            .await
            .unwrap(),
    );

    let ack = tokio::time::timeout(std::time::Duration::from_secs(30), acks.recv())
        .await
        .expect("an ack in time")
        .unwrap();
    assert_eq!(ack.plan_version, 5);
    assert!(
        ack.error.contains("contract 1") && ack.error.contains("upgrade the control plane"),
        "{}",
        ack.error
    );
    assert!(l.plans().borrow().is_none(), "not followed");
    assert!(
        !dir.path().join(super::state::PLAN_FILE).exists(),
        "not persisted"
    );
    shutdown.cancel();
    l.closed().await;
    stop.cancel();
    server.await.unwrap().unwrap();
}
