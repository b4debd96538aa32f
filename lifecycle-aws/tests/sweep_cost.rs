//! What a sweep costs on a big table (BENCHMARKS.md): 10,000 instance records of which 10 wait
//! for a command, on moto_server. The sweep's requests are counted at the HTTP layer; a `Scan`
//! of the same table (what the sweep did before the index of waits) is measured beside it.
//!
//! `scripts/test -p lifecycle-aws --test sweep_cost -- --ignored --nocapture`

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use common::TestClock;
use common::node::{Node, Recorded, launching, outcome};
use lifecycle_aws::runtime::{Outcome, Runtime};
use lifecycle_aws::store::DynamoStore;
use serde_json::json;

/// Every request the DynamoDB client transmits, by operation.
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "Calls"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

impl Calls {
    fn take(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for operation in self.0.lock().unwrap().drain(..) {
            *counts.entry(operation).or_default() += 1;
        }
        counts
    }
}

const RECORDS: usize = 10_000;
const WAITING: usize = 10;

#[test]
#[ignore = "a measurement for BENCHMARKS.md: run with --ignored --nocapture"]
fn measure_what_a_sweep_reads_of_the_table() {
    common::run(async {
        let config = common::sdk_config().await;
        let calls = Calls::default();
        let client = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&config)
                .interceptor(calls.clone())
                .build(),
        );
        let table = common::node_table(&client).await;
        let started = Instant::now();
        for chunk in (0..RECORDS).collect::<Vec<_>>().chunks(25) {
            let writes = chunk
                .iter()
                .map(|i| {
                    let item = HashMap::from([
                        ("Ident".to_owned(), AttributeValue::S(format!("i-{i:017}"))),
                        (
                            "ItemStatus".to_owned(),
                            AttributeValue::S(
                                if *i < WAITING {
                                    "finished_cloud_init"
                                } else {
                                    "ready"
                                }
                                .into(),
                            ),
                        ),
                        ("ItemType".to_owned(), AttributeValue::S("worker".into())),
                        (
                            "InstanceIp".to_owned(),
                            AttributeValue::S(format!("10.0.{}.{}", i / 250, i % 250)),
                        ),
                    ]);
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                        .build()
                })
                .collect();
            client
                .batch_write_item()
                .request_items(&table, writes)
                .send()
                .await
                .unwrap();
        }
        let seeded = started.elapsed();

        let recorded = Arc::new(Recorded::default());
        let clock = TestClock::at(SystemTime::now());
        let runtime = Runtime::with_parts(
            DynamoStore::new(client.clone(), &table),
            Arc::new(lifecycle_aws::effects::SsmCommands(
                aws_sdk_ssm::Client::new(&config),
            )),
            recorded.clone(),
            (|| Node) as fn() -> Node,
        )
        .with_clock(clock.clone());
        for i in 0..WAITING {
            runtime
                .handle(&launching(&format!("i-{i:017}")))
                .await
                .unwrap();
        }
        clock.advance(Duration::from_secs(300));
        calls.take();

        let sweep = json!({
            "version": "0", "id": "sweep-1", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": "2026-11-25T10:00:00Z",
            "region": "eu-central-1",
            "resources": ["arn:aws:events:eu-central-1:123456789012:rule/lifecycle-sweep"],
            "detail": {}
        });
        let started = Instant::now();
        let swept = outcome(&runtime.handle(&sweep).await.unwrap());
        let sweep_time = started.elapsed();
        let sweep_calls = calls.take();
        let Outcome::Swept { kept_alive, .. } = swept else {
            panic!("{swept:?}")
        };
        assert_eq!(kept_alive.len(), WAITING);
        assert_eq!(sweep_calls.get("Scan"), None, "the sweep never scans");
        assert_eq!(sweep_calls.get("Query"), Some(&1));

        // The Scan the sweep used to make, for comparison: every item read.
        let started = Instant::now();
        let (mut pages, mut scanned) = (0, 0);
        let mut scan = client
            .scan()
            .table_name(&table)
            .filter_expression("ItemType = :command")
            .expression_attribute_values(":command", AttributeValue::S("command".into()))
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = scan.next().await {
            let page = page.unwrap();
            pages += 1;
            scanned += page.scanned_count() as usize;
        }
        let scan_time = started.elapsed();
        println!(
            "sweep cost: {RECORDS} records ({WAITING} waiting; seeded in {:.1} s): sweep {:?} \
             requests, {} items read (the waiting ones), {:.0} ms; the Scan it replaces: {pages} \
             pages, {scanned} items read, {:.0} ms",
            seeded.as_secs_f64(),
            sweep_calls,
            kept_alive.len(),
            sweep_time.as_secs_f64() * 1000.0,
            scan_time.as_secs_f64() * 1000.0
        );
    });
}
