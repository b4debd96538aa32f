//! `lifecycle-local`: a simulated Auto Scaling group, run through the Lambda's code path
//! (EventBridge JSON → `lifecycle-aws` decoding → runtime → generated dispatcher) on an
//! in-memory node table, or on a DynamoDB-compatible server; prints a timeline, each
//! instance's outcome and the model's diagram.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use lifecycle_aws::local::MemoryTable;
use lifecycle_aws::store::DynamoStore;
use lifecycle_core::LifecycleModel;
use lifecycle_examples::backup::NightlyBackup;
use lifecycle_examples::cluster::ClusterNode;
use lifecycle_examples::local::{Report, Scenario, simulate};
use lifecycle_examples::status;

const USAGE: &str = "usage: lifecycle-local [--scenario FILE] [--fail-join ID]... [--terminate ID]... [--no-failures]
                       [--dynamodb-endpoint URL] [--diagram | --dot] [--model cluster|backup]
       lifecycle-local status --table TABLE [--endpoint-url URL] [--model cluster|backup]
                       [--deadline SECONDS] [--all] [--json]

Runs a simulated Auto Scaling group through the cluster model, with every event as the JSON AWS
delivers, handled by the same runtime as the Lambda; SSM and Auto Scaling are simulated. By
default: i-0a1 (manager, slow cloud-init: its launch waits for it), i-0b2 and i-0c3 (workers)
launch; i-0c3's join command fails and it is ABANDONed; then i-0b2 is terminated.

  --scenario FILE           read the scenario from a JSON file:
                            {\"nodes\": [{\"id\": \"i-1\", \"kind\": \"worker\", \"slow_cloud_init\": false}],
                             \"failing_joins\": [\"i-1\"], \"terminate\": [\"i-1\"]}
  --fail-join ID            make ID's join command fail (replaces the scenario's; repeatable)
  --terminate ID            terminate ID after the launches (replaces the scenario's; repeatable)
  --no-failures             no join command fails
  --dynamodb-endpoint URL   keep the node table in a DynamoDB-compatible server at URL (a new
                            table per run) instead of in memory
  --diagram, --dot          print the model's Mermaid / Graphviz diagram and exit
  --model NAME              the model --diagram and --dot print: cluster (default) or backup
  --help                    this text

status: what waits in a node table (standard AWS configuration; --endpoint-url for a local
server): each waiting lifecycle of the model (instance, state, what it waits for, since when,
deadline), read from the index of waits. --all lists every record's state instead (a Scan);
--json prints JSON; --deadline is the runtime's LIFECYCLE_WAIT_DEADLINE_SECONDS (default 3600).";

#[derive(Debug)]
struct StatusArgs {
    table: String,
    endpoint: Option<String>,
    waiter: &'static str,
    deadline: u64,
    all: bool,
    json: bool,
}

fn parse_status(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let (mut table, mut endpoint, mut waiter) = (None, None, ClusterNode::DEFINITION.name);
    let (mut deadline, mut all, mut json) = (3600, false, false);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or_else(|| format!("{arg} needs {what}"));
        match arg.as_str() {
            "--table" => table = Some(value("a table name")?),
            "--endpoint-url" => endpoint = Some(value("a URL")?),
            "--model" => {
                waiter = match value("a model name")?.as_str() {
                    "cluster" => ClusterNode::DEFINITION.name,
                    "backup" => NightlyBackup::DEFINITION.name,
                    other => return Err(format!("unknown model `{other}`: cluster or backup")),
                }
            }
            "--deadline" => {
                let text = value("seconds")?;
                deadline = text.parse().map_err(|_| {
                    format!("--deadline: `{text}` is not a whole number of seconds")
                })?;
            }
            "--all" => all = true,
            "--json" => json = true,
            "--help" | "-h" => return Ok(Command::Help),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Command::Status(StatusArgs {
        table: table.ok_or("status needs --table TABLE")?,
        endpoint,
        waiter,
        deadline,
        all,
        json,
    }))
}

async fn status(args: &StatusArgs) -> Result<String, String> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = &args.endpoint {
        loader = loader.endpoint_url(url);
    }
    let client = aws_sdk_dynamodb::Client::new(&loader.load().await);
    let table = DynamoStore::new(client, &args.table);
    let as_json = |value: serde_json::Value| format!("{value:#}\n");
    if args.all {
        let rows = status::all_records(&table)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(if args.json {
            as_json(serde_json::json!(rows))
        } else {
            status::records_table(&rows)
        });
    }
    let deadline = std::time::Duration::from_secs(args.deadline);
    let rows = status::waiting(&table, args.waiter, deadline)
        .await
        .map_err(|e| e.to_string())?;
    Ok(if args.json {
        as_json(serde_json::json!(rows))
    } else {
        status::waiting_table(&rows)
    })
}

#[derive(Debug)]
enum Command {
    Status(StatusArgs),
    Run {
        scenario: Scenario,
        endpoint: Option<String>,
    },
    Print(&'static str),
    Help,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut args = args.into_iter().peekable();
    if args.peek().map(String::as_str) == Some("status") {
        args.next();
        return parse_status(args);
    }
    let mut scenario = None;
    let mut fail_joins = None::<Vec<String>>;
    let mut terminate = None::<Vec<String>>;
    let mut endpoint = None;
    let mut diagram = None;
    let mut model = "cluster".to_owned();
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or_else(|| format!("{arg} needs {what}"));
        match arg.as_str() {
            "--scenario" => {
                let path = value("a file")?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("--scenario {path}: {e}"))?;
                scenario = Some(
                    Scenario::from_json(&text).map_err(|e| format!("--scenario {path}: {e}"))?,
                );
            }
            "--fail-join" => fail_joins
                .get_or_insert_with(Vec::new)
                .push(value("an instance id")?),
            "--terminate" => terminate
                .get_or_insert_with(Vec::new)
                .push(value("an instance id")?),
            "--no-failures" => fail_joins = Some(Vec::new()),
            "--dynamodb-endpoint" => endpoint = Some(value("a URL")?),
            "--diagram" => diagram = Some(false),
            "--dot" => diagram = Some(true),
            "--model" => model = value("a model name")?,
            "--help" | "-h" => return Ok(Command::Help),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if let Some(dot) = diagram {
        return match (model.as_str(), dot) {
            ("cluster", false) => Ok(Command::Print(ClusterNode::MERMAID)),
            ("cluster", true) => Ok(Command::Print(ClusterNode::DOT)),
            ("backup", false) => Ok(Command::Print(NightlyBackup::MERMAID)),
            ("backup", true) => Ok(Command::Print(NightlyBackup::DOT)),
            (other, _) => Err(format!("unknown model `{other}`: cluster or backup")),
        };
    }
    let mut scenario = scenario.unwrap_or_default();
    if let Some(ids) = fail_joins {
        scenario.failing_joins = ids.into_iter().collect();
    }
    if let Some(ids) = terminate {
        scenario.terminate = ids;
    }
    Ok(Command::Run { scenario, endpoint })
}

fn print(report: &Report, table: &str) {
    println!("Timeline (cluster model; node table: {table}; simulated SSM and Auto Scaling)\n");
    println!(
        "{:>9}  {:<8} {:<16} {:<42} what",
        "elapsed", "instance", "event", "state"
    );
    for step in &report.timeline {
        let states = match (step.from.as_str(), step.to.as_str()) {
            ("", "") => String::new(),
            (from, to) if from == to => from.to_owned(),
            (from, to) => format!("{from} → {to}"),
        };
        println!(
            "{:>7.3}ms  {:<8} {:<16} {:<42} {}",
            step.elapsed.as_secs_f64() * 1e3,
            step.instance,
            step.event,
            states,
            step.what
        );
    }
    println!("\nInstances ({} events handled)\n", report.events);
    println!(
        "{:<8} {:<8} {:<18} lifecycle actions completed",
        "instance", "type", "state"
    );
    for node in &report.nodes {
        let completions: Vec<String> = node
            .completions
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    c.transition.as_aws_str().trim_start_matches("autoscaling:"),
                    c.result
                )
            })
            .collect();
        let completions = if completions.is_empty() {
            "-".to_owned()
        } else {
            completions.join(", ")
        };
        println!(
            "{:<8} {:<8} {:<18} {}",
            node.id, node.kind, node.state, completions
        );
    }
    println!("\nDNS\n");
    for (name, addresses) in &report.dns {
        let addresses = if addresses.is_empty() {
            "-".to_owned()
        } else {
            addresses.join(", ")
        };
        println!("{name:<26} {addresses}");
    }
    print!("\nModel diagram (Mermaid)\n\n{}", ClusterNode::MERMAID);
}

/// A new node table in the server at `endpoint`.
async fn dynamodb_table(endpoint: &str) -> Result<DynamoStore, String> {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "eu-central-1".into());
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region))
        .endpoint_url(endpoint);
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        // Local servers want some credentials, not real ones.
        loader = loader.credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "lifecycle-local",
        ));
    }
    let client = aws_sdk_dynamodb::Client::new(&loader.load().await);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let table = format!("lifecycle-local-{}-{secs}", std::process::id());
    DynamoStore::create_table(client, &table)
        .await
        .map_err(|e| format!("--dynamodb-endpoint {endpoint}: {e}"))
}

fn main() -> ExitCode {
    let command = match parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("lifecycle-local: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (scenario, endpoint) = match command {
        Command::Help => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Command::Print(diagram) => {
            print!("{diagram}");
            return ExitCode::SUCCESS;
        }
        Command::Run { scenario, endpoint } => (scenario, endpoint),
        Command::Status(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime");
            return match runtime.block_on(status(&args)) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(message) => {
                    eprintln!("lifecycle-local status: {message}");
                    ExitCode::from(2)
                }
            };
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    let result = runtime.block_on(async {
        match &endpoint {
            None => simulate(&scenario, MemoryTable::new())
                .await
                .map(|r| (r, "in memory".to_owned()))
                .map_err(|e| e.to_string()),
            Some(url) => {
                let table = dynamodb_table(url).await?;
                let name = format!("{} at {url}", table.table());
                simulate(&scenario, table)
                    .await
                    .map(|r| (r, name))
                    .map_err(|e| e.to_string())
            }
        }
    });
    match result {
        Ok((report, table)) => {
            print(&report, &table);
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("lifecycle-local: {message}");
            ExitCode::from(2)
        }
    }
}
