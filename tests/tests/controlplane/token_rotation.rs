//! A site's token replaced (`Admin.RotateSiteToken`, `ctl site
//! rotate-token`; SECURITY.md F10): the old token stops working at once,
//! the plan stream it opened ends, the new one registers, another site's
//! data plane is untouched, and the rotation is in the audit log.

use switchyard_controlplane::admin_token_file;
use switchyard_proto::v1 as pb;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::site_isolation::{
    TWO_SITES, WAIT, admin_client, client, register_and_watch, register_request, token,
};
use switchyard_tests::linked::control_plane;

#[tokio::test]
async fn a_rotated_site_token_stops_working_at_once_and_its_plan_stream_ends() {
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), TWO_SITES).await;
    let old = token(dir.path(), "a");
    let mut a = client(&cp, &old).await;
    let (_, _, mut a_stream) = register_and_watch(&mut a, "a-dp").await;
    let mut b = client(&cp, &token(dir.path(), "b")).await;
    let (_, _, mut b_stream) = register_and_watch(&mut b, "b-dp").await;

    let admin = std::fs::read_to_string(admin_token_file(&dir.path().join("switchyard.db")))
        .unwrap()
        .trim()
        .to_owned();
    let mut adm = admin_client(&cp, &admin).await;
    let r = adm
        .rotate_site_token(pb::RotateSiteTokenRequest { name: "a".into() })
        .await
        .expect("rotate")
        .into_inner();
    assert!(r.token.len() >= 32 && r.token != old, "a new token");
    assert_eq!(r.site.unwrap().name, "a");

    // The stream opened with the old token ends...
    let end = tokio::time::timeout(WAIT, async {
        while let Some(item) = a_stream.next().await {
            if item.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the old token's plan stream ended");
    // ...and the old token is refused.
    let e = a.register(register_request("a-dp")).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{e}");
    // The new one works as the same site.
    let mut a2 = client(&cp, &r.token).await;
    let (reg, _, _a2_stream) = register_and_watch(&mut a2, "a-dp").await;
    assert_eq!(reg.site, "a");
    // Site b's stream is still open: nothing arrives, it does not end.
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(300), b_stream.next()).await;
    assert!(quiet.is_err(), "site b's stream goes on: {quiet:?}");
    b.register(register_request("b-dp"))
        .await
        .expect("b still registers");

    // Unknown site: a clear refusal; the rotation is audited.
    let e = adm
        .rotate_site_token(pb::RotateSiteTokenRequest {
            name: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e}");
    let audit = cp.store().audit_entries(10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|(_, _, action, target, _)| action == "site.rotate_token" && target == "a"),
        "{audit:?}"
    );
    cp.shutdown().await;
}
