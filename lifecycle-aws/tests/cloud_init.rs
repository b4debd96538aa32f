//! Cloud-init's progress reaches the node table without instances writing it: an instance tags
//! itself (`lifecycle:cloud-init` = `registered`, then `finished`), EventBridge delivers the tag
//! change, and the Lambda writes the record from what EC2 says (moto's EC2 here).

mod common;

use common::node::{Fixture, end_of, launching, outcome};
use lifecycle_aws::runtime::HandleError;
use serde_json::{Value, json};

/// The EventBridge event of an instance's tag change.
fn tagged(instance: &str, step: &str, id: &str) -> Value {
    json!({"version": "0", "id": id, "detail-type": "Tag Change on Resource", "source": "aws.tag",
        "account": "123456789012", "time": "2026-11-26T01:00:00Z", "region": "eu-central-1",
        "resources": [format!("arn:aws:ec2:eu-central-1:123456789012:instance/{instance}")],
        "detail": {"changed-tag-keys": ["lifecycle:cloud-init"], "service": "ec2",
            "resource-type": "instance", "version": 2,
            "tags": {"lifecycle:cloud-init": step}}})
}

/// The region of these tests: their EC2 instances stay out of the other tests' (moto's SSM
/// would target them all).
const REGION: &str = "eu-west-1";

/// An instance in moto's EC2: its id and private address.
async fn run_instance() -> (String, String) {
    let config = common::sdk_config_in(REGION).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let image = ec2
        .describe_images()
        .send()
        .await
        .unwrap()
        .images()
        .first()
        .and_then(|i| i.image_id())
        .expect("moto has default images")
        .to_owned();
    let reservation = ec2
        .run_instances()
        .image_id(image)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap();
    let instance = &reservation.instances()[0];
    (
        instance.instance_id().unwrap().to_owned(),
        instance.private_ip_address().unwrap().to_owned(),
    )
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_launch_waits_for_the_instance_to_tag_itself_finished_and_its_record_holds_ec2s_facts() {
    common::run(async {
        let f = Fixture::in_region(REGION).await;
        let (instance, ip) = run_instance().await;

        // Cloud-init's first step: the record is created, waiting, with EC2's address.
        let response = f
            .handle(tagged(&instance, "registered", "tag-1"))
            .await
            .unwrap();
        assert_eq!(
            response["outcomes"][0]["outcome"], "registered",
            "{response}"
        );
        assert_eq!(f.state(&instance).await, "pending");
        assert_eq!(f.attribute(&instance, "InstanceIp").await, ip);

        // The launch comes while cloud-init runs: parked.
        let response = f.handle(launching(&instance)).await.unwrap();
        assert_eq!(response["outcomes"][0]["outcome"], "parked", "{response}");

        // Cloud-init's last step: the record reaches the initial state; the parked launch is
        // still on it, for the table's stream to resume.
        let response = f
            .handle(tagged(&instance, "finished", "tag-2"))
            .await
            .unwrap();
        assert_eq!(response["outcomes"][0]["state"], "finished_cloud_init");
        let item = f.item(&instance).await.unwrap();
        assert!(item.contains_key("PendingLifecycle"), "{item:?}");
        let new_image = common::dynamodb_json(&item);
        let mut old_image = new_image.clone();
        old_image["ItemStatus"] = json!({"S": "pending"});
        let response = f
            .handle(common::stream_record(
                &instance, "100", new_image, old_image,
            ))
            .await
            .unwrap();
        assert_eq!(
            end_of(&outcome(
                &json!({"outcomes": [response["outcomes"][0].clone()]})
            )),
            ("joining", "waiting", None),
            "{response}"
        );

        // A late duplicate of the first step changes nothing.
        let response = f
            .handle(tagged(&instance, "registered", "tag-1"))
            .await
            .unwrap();
        assert_eq!(response["outcomes"][0]["outcome"], "ignored", "{response}");
        assert_eq!(f.state(&instance).await, "joining");
    });
}

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn a_tag_for_an_instance_ec2_does_not_know_writes_nothing() {
    common::run(async {
        let f = Fixture::in_region(REGION).await;
        let err = f
            .handle(tagged("i-0000000000000dead", "finished", "tag-9"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, HandleError::UnknownInstance(i) if i == "i-0000000000000dead"),
            "{err}"
        );
        assert!(f.item("i-0000000000000dead").await.is_none());

        // Another tag, or an unknown step: not cloud-init's progress.
        let (instance, _) = run_instance().await;
        let mut other = tagged(&instance, "finished", "tag-10");
        other["detail"]["changed-tag-keys"] = json!(["Name"]);
        let response = f.handle(other).await.unwrap();
        assert_eq!(response["outcomes"][0]["outcome"], "ignored");
        let response = f.handle(tagged(&instance, "done", "tag-11")).await.unwrap();
        assert_eq!(response["outcomes"][0]["outcome"], "ignored");
        assert!(f.item(&instance).await.is_none());
    });
}
