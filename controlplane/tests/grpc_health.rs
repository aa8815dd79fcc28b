//! Standard gRPC tooling works against the control plane without the
//! .proto files or a token: the health service says SERVING for the whole
//! server and for each of its services (and NOT_FOUND for a service it does
//! not have), and reflection lists the services and describes the contract.

mod common;

use tokio_stream::StreamExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

#[tokio::test]
async fn health_and_reflection_answer_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let c = common::start(dir.path()).await;
    let channel = common::channel(&c.cp).await;

    let mut health = HealthClient::new(channel.clone());
    for service in ["", "switchyard.v1.Admin", "switchyard.v1.DataPlane"] {
        let r = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("health of {service:?}: {e}"))
            .into_inner();
        assert_eq!(r.status(), ServingStatus::Serving, "{service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "switchyard.v1.Nothing".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    let mut reflection = ServerReflectionClient::new(channel);
    let ask = |m: MessageRequest| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(m),
    };
    let requests = tokio_stream::iter(vec![
        ask(MessageRequest::ListServices(String::new())),
        ask(MessageRequest::FileContainingSymbol(
            "switchyard.v1.Admin".into(),
        )),
    ]);
    let mut answers = reflection
        .server_reflection_info(requests)
        .await
        .unwrap()
        .into_inner();
    let listed = answers.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = listed.message_response else {
        panic!("not a service list: {listed:?}");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for want in [
        "switchyard.v1.Admin",
        "switchyard.v1.DataPlane",
        "grpc.health.v1.Health",
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    let file = answers.next().await.unwrap().unwrap();
    let Some(MessageResponse::FileDescriptorResponse(fd)) = file.message_response else {
        panic!("not a file descriptor: {file:?}");
    };
    assert!(!fd.file_descriptor_proto.is_empty());
    c.cp.shutdown().await;
}

#[tokio::test]
async fn health_turns_not_serving_when_the_control_plane_stops() {
    let dir = tempfile::tempdir().unwrap();
    let c = common::start(dir.path()).await;
    let channel = common::channel(&c.cp).await;
    let mut health = HealthClient::new(channel);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);
    let stop = tokio::spawn(c.cp.shutdown());
    let next = watch
        .next()
        .await
        .expect("a status before the stream ends")
        .expect("a status, not an error");
    assert_eq!(next.status(), ServingStatus::NotServing);
    // The watch stays open: the stop still completes (the stream is cut).
    stop.await.unwrap();
    drop(watch);
}
