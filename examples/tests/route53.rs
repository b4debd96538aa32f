//! The cluster's Route 53 registry against moto_server: one record per node, idempotent.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_route53::config::Credentials;
use lifecycle_examples::cluster::DnsRegistry;
use lifecycle_examples::route53::Route53Dns;

#[test]
#[ignore = "needs moto_server: run scripts/test"]
fn nodes_are_published_and_withdrawn_one_record_each() {
    let endpoint = std::env::var("LIFECYCLE_TEST_ENDPOINT")
        .expect("LIFECYCLE_TEST_ENDPOINT is not set: run the tests with scripts/test, which starts moto_server");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let config = aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
                .endpoint_url(&endpoint)
                .load()
                .await;
            let client = aws_sdk_route53::Client::new(&config);
            let zone = client
                .create_hosted_zone()
                .name("cluster.internal")
                .caller_reference(format!("tests-{}", std::process::id()))
                .send()
                .await
                .unwrap();
            let zone_id = zone
                .hosted_zone()
                .unwrap()
                .id()
                .trim_start_matches("/hostedzone/")
                .to_owned();
            let dns = Route53Dns::new(client.clone(), &zone_id);

            dns.publish("worker.cluster.internal", "i-1", "10.0.0.1")
                .await
                .unwrap();
            dns.publish("worker.cluster.internal", "i-2", "10.0.0.2")
                .await
                .unwrap();
            // A retried publish changes nothing.
            dns.publish("worker.cluster.internal", "i-2", "10.0.0.2")
                .await
                .unwrap();
            let records = |client: aws_sdk_route53::Client, zone_id: String| async move {
                let sets = client
                    .list_resource_record_sets()
                    .hosted_zone_id(zone_id)
                    .send()
                    .await
                    .unwrap();
                let mut found: Vec<(String, String)> = sets
                    .resource_record_sets()
                    .iter()
                    .filter(|r| r.r#type().as_str() == "A")
                    .map(|r| {
                        (
                            r.set_identifier().unwrap_or_default().to_owned(),
                            r.resource_records()[0].value().to_owned(),
                        )
                    })
                    .collect();
                found.sort();
                found
            };
            assert_eq!(
                records(client.clone(), zone_id.clone()).await,
                [
                    ("i-1".into(), "10.0.0.1".into()),
                    ("i-2".into(), "10.0.0.2".into())
                ]
            );

            dns.withdraw("worker.cluster.internal", "i-1", "10.0.0.1")
                .await
                .unwrap();
            assert_eq!(
                records(client.clone(), zone_id.clone()).await,
                [("i-2".into(), "10.0.0.2".into())]
            );
            // Withdrawing what is gone (a retry) is not an error.
            dns.withdraw("worker.cluster.internal", "i-1", "10.0.0.1")
                .await
                .unwrap();

            // Any other failure is.
            let missing_zone = Route53Dns::new(client, "ZNOSUCHZONE");
            assert!(
                missing_zone
                    .publish("worker.cluster.internal", "i-3", "10.0.0.3")
                    .await
                    .is_err()
            );
        });
}
