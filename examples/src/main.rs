//! `lifecycle-local`: a simulated Auto Scaling group, run through the Lambda's code path
//! (EventBridge JSON → `lifecycle-aws` decoding → runtime → generated dispatcher) on an
//! in-memory node table, or on a DynamoDB-compatible server; prints a timeline, each
//! instance's outcome and the model's diagram.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use lifecycle_aws::store::DynamoStore;
use lifecycle_aws::store::MemoryTable;
use lifecycle_core::LifecycleModel;
use lifecycle_examples::backup::NightlyBackup;
use lifecycle_examples::cluster::ClusterNode;
use lifecycle_examples::local::{Report, Scenario, simulate, simulate_backup};
use lifecycle_examples::status;

const USAGE: &str = "usage: lifecycle-local [--model cluster|backup] [--scenario FILE] [--fail-join ID]...
                       [--terminate ID]... [--spot-interruption ID]... [--warm-pool ID]...
                       [--lose-event ID[:terminating]]... [--no-failures]
                       [--dynamodb-endpoint URL [--keep-table]]
       lifecycle-local [--model cluster|backup] --diagram | --dot
       lifecycle-local --version
       lifecycle-local status --table TABLE [--endpoint-url URL]
                       [--model cluster|backup | --waiter MODEL_NAME]
                       [--deadline SECONDS] [--groups GROUP,...] [--all | --instance ID] [--json]

Runs a simulated Auto Scaling group through the cluster model, with every event as the JSON AWS
delivers, handled by the same runtime as the Lambda; SSM and Auto Scaling are simulated, and so
is time. By default: i-0a1b2c3d4e5f60001 (manager, slow cloud-init: its launch waits for it),
i-0a1b2c3d4e5f60002 and i-0a1b2c3d4e5f60003 (workers) launch; the last one's join command fails
and it is ABANDONed; then i-0a1b2c3d4e5f60002 is terminated. With --model backup: the nightly
backup, two nights.

  --scenario FILE           read the scenario from a JSON file:
                            {\"nodes\": [{\"id\": \"i-1\", \"kind\": \"worker\", \"slow_cloud_init\": false}],
                             \"failing_joins\": [\"i-1\"], \"terminate\": [\"i-1\"],
                             \"spot_interruptions\": [], ... \"warm_pool\": true on a node}
  --fail-join ID            make ID's join command fail (replaces the scenario's; repeatable)
  --terminate ID            terminate ID after the launches (replaces the scenario's; repeatable)
  --spot-interruption ID    EC2 takes Spot instance ID back after the launches: the interruption
                            warning, the terminate action two minutes later (repeatable)
  --warm-pool ID            ID launches into the warm pool first, into the group later
                            (repeatable)
  --lose-event ID           ID's launch event never arrives (ID:terminating: its terminate event):
                            Auto Scaling holds the action all the same, and the next sweep (every
                            5 minutes) finds it and starts its lifecycle (repeatable; scenario
                            file: \"lose_events\": [...])
  --no-failures             no join command fails
  --dynamodb-endpoint URL   keep the node table in a DynamoDB-compatible server at URL (a new
                            table per run, deleted at the end) instead of in memory
  --keep-table              do not delete that table
  --model NAME              cluster (default) or backup: the model to run, or to draw
  --diagram, --dot          print the model's Mermaid / Graphviz diagram and exit
  --version                 the version
  --help                    this text

status: what waits in a node table (standard AWS configuration; --endpoint-url for a local
server): each waiting lifecycle of the model (instance, state, what it waits for, since when,
deadline), read from the index of waits. --all lists every record's state instead (a Scan);
--json prints JSON; --deadline is the runtime's LIFECYCLE_WAIT_DEADLINE_SECONDS (default 3600).
--groups (the cluster model's LIFECYCLE_GROUPS) also lists the lifecycle actions Auto Scaling
holds in those groups that no lifecycle handles (a lost event's), and what the next sweep does.
--waiter MODEL_NAME lists the waits of any model sharing the table (its type's name: the index
of waits is sharded by it). --instance ID prints one record's story: its state, its last steps
(when, from, to, trigger, event, command, result, as stored with each state change), and what it
waits for now with the deadline that applies. It needs the table's region and credentials as any AWS tool does
(AWS_REGION, AWS_PROFILE or AWS_ACCESS_KEY_ID...).";

#[derive(Debug)]
struct StatusArgs {
    table: String,
    endpoint: Option<String>,
    waiter: String,
    deadline: u64,
    all: bool,
    json: bool,
    groups: Vec<String>,
    instance: Option<String>,
}

fn parse_status(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let (mut table, mut endpoint) = (None, None);
    let mut waiter = ClusterNode::DEFINITION.name.to_owned();
    let (mut deadline, mut all, mut json) = (3600, false, false);
    let mut groups = Vec::new();
    let mut instance = None;
    let mut custom_waiter = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or_else(|| format!("{arg} needs {what}"));
        match arg.as_str() {
            "--table" => table = Some(value("a table name")?),
            "--endpoint-url" => endpoint = Some(endpoint_url(&arg, &value("a URL")?)?),
            "--waiter" => {
                let name = value("a model's name")?;
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(format!("--waiter `{name}` is not a model's name: give its type's name, e.g. ClusterNode"));
                }
                waiter = name;
                custom_waiter = true;
            }
            "--model" => {
                waiter = match value("a model name")?.as_str() {
                    "cluster" => ClusterNode::DEFINITION.name,
                    "backup" => NightlyBackup::DEFINITION.name,
                    other => {
                        return Err(format!(
                            "unknown model `{other}`: cluster or backup (another model's waits: --waiter ITS_NAME)"
                        ));
                    }
                }
                .to_owned()
            }
            "--deadline" => {
                let text = value("seconds")?;
                deadline = text.parse().map_err(|_| {
                    format!("--deadline: `{text}` is not a whole number of seconds")
                })?;
            }
            "--all" => all = true,
            "--instance" => instance = Some(value("an instance id")?),
            "--json" => json = true,
            "--groups" => {
                groups = value("group names, comma-separated")?
                    .split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            "--help" | "-h" => return Ok(Command::Help),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if !groups.is_empty() && waiter != ClusterNode::DEFINITION.name {
        return Err(if custom_waiter {
            "--groups needs the model's own code to tell what its next sweep would do: it works with the cluster model; for yours, call Runtime::unhandled_actions".into()
        } else {
            "--groups: the backup model reacts to no Auto Scaling group".into()
        });
    }
    if all && instance.is_some() {
        return Err("--all lists every record, --instance one: give one of them".into());
    }
    Ok(Command::Status(StatusArgs {
        instance,
        table: table.ok_or("status needs --table TABLE")?,
        endpoint,
        waiter,
        deadline,
        all,
        json,
        groups,
    }))
}

async fn status(args: &StatusArgs) -> Result<String, String> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = &args.endpoint {
        loader = loader.endpoint_url(url);
    }
    let sdk = loader.load().await;
    // The SDK's own messages for these ("missing signing region", a page about the instance
    // metadata service) say little to someone at a terminal.
    if sdk.region().is_none() {
        return Err(
            "no AWS region: set AWS_REGION (or a region in your AWS profile) to the table's".into(),
        );
    }
    match sdk.credentials_provider() {
        Some(provider) => {
            use aws_sdk_dynamodb::config::ProvideCredentials;
            if let Err(e) = provider.provide_credentials().await {
                return Err(format!(
                    "no AWS credentials ({e}): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                ));
            }
        }
        None => {
            return Err(
                "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    .into(),
            );
        }
    }
    let client = aws_sdk_dynamodb::Client::new(&sdk);
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
    let record = match &args.instance {
        Some(ident) => {
            use lifecycle_core::Store;
            Some(table.load(ident).await.map_err(|e| e.to_string())?.ok_or_else(|| {
                format!(
                    "no record for {ident} in {}: cloud-init has not registered it, or it ended and its retention passed",
                    args.table
                )
            })?)
        }
        None => None,
    };
    // One instance's waits from its record; everyone's from the index of waits.
    let mut rows = match &record {
        Some(record) => status::waits_of(&table, record, deadline).await,
        None => status::waiting(&table, &args.waiter, deadline).await,
    }
    .map_err(|e| e.to_string())?;
    let runtime = (!args.groups.is_empty()).then(|| {
        lifecycle_aws::runtime::Runtime::new(&sdk, &args.table, ClusterNode::default)
            .with_groups(args.groups.clone())
            .with_wait_deadline(deadline)
    });
    if let Some(runtime) = &runtime {
        // Which limit applies to each wait: the configured deadline, or the hook's own.
        for row in &mut rows {
            if let (Some(action), Some(since)) = (&row.action, row.since) {
                let (at, limit) = runtime.wait_deadline(Some(action), since).await;
                row.deadline = Some(at);
                if limit == lifecycle_aws::runtime::Limit::HookGlobalTimeout {
                    row.limit = "hook";
                }
            }
        }
    }
    if let Some(record) = record {
        let story = status::Story::of(&record, rows);
        let story = if args.waiter == NightlyBackup::DEFINITION.name {
            story.judged_by::<NightlyBackup>()
        } else if args.waiter == ClusterNode::DEFINITION.name {
            story.judged_by::<ClusterNode>()
        } else {
            story // another model's: this tool does not know its states
        };
        return Ok(if args.json {
            as_json(serde_json::json!(story))
        } else {
            status::story_text(&story)
        });
    }
    let unhandled = match &runtime {
        Some(runtime) => runtime
            .unhandled_actions()
            .await
            .map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    Ok(match (args.json, args.groups.is_empty()) {
        (true, true) => as_json(serde_json::json!(rows)),
        (true, false) => as_json(serde_json::json!({
            "waiting": rows,
            "unhandled": unhandled.iter().map(|u| serde_json::json!({
                "instance": u.instance.instance_id, "group": u.instance.group,
                "lifecycle_state": u.instance.lifecycle_state, "next_sweep": u.next_sweep,
            })).collect::<Vec<_>>(),
        })),
        (false, true) => status::waiting_table(&rows),
        (false, false) => format!(
            "{}\n{}",
            status::waiting_table(&rows),
            status::unhandled_table(&unhandled)
        ),
    })
}

#[derive(Debug)]
enum Command {
    Status(StatusArgs),
    Run {
        /// `None`: the backup model.
        scenario: Option<Scenario>,
        endpoint: Option<String>,
        keep_table: bool,
    },
    Version,
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
    let mut no_failures = false;
    let mut terminate = None::<Vec<String>>;
    let mut spot = None::<Vec<String>>;
    let mut warm_pool = Vec::new();
    let mut lose = Vec::new();
    let mut endpoint = None;
    let mut keep_table = false;
    let mut diagram: Option<&str> = None;
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
            "--spot-interruption" => spot
                .get_or_insert_with(Vec::new)
                .push(value("an instance id")?),
            "--warm-pool" => warm_pool.push(value("an instance id")?),
            "--lose-event" => lose.push(value("an instance id, or ID:terminating")?),
            "--no-failures" => no_failures = true,
            "--dynamodb-endpoint" => endpoint = Some(endpoint_url(&arg, &value("a URL")?)?),
            "--keep-table" => keep_table = true,
            "--diagram" | "--dot" => {
                if let Some(other) = diagram.filter(|d| *d != arg) {
                    return Err(format!(
                        "{other} and {arg} print different diagrams: choose one"
                    ));
                }
                diagram = Some(if arg == "--dot" { "--dot" } else { "--diagram" });
            }
            "--model" => model = value("a model name")?,
            "--version" | "-V" => return Ok(Command::Version),
            "--help" | "-h" => return Ok(Command::Help),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if no_failures && fail_joins.is_some() {
        return Err("--fail-join and --no-failures contradict each other: choose one".into());
    }
    if !matches!(model.as_str(), "cluster" | "backup") {
        return Err(format!("unknown model `{model}`: cluster or backup"));
    }
    let scenario_options = scenario.is_some()
        || fail_joins.is_some()
        || terminate.is_some()
        || spot.is_some()
        || !warm_pool.is_empty()
        || !lose.is_empty()
        || no_failures;
    if let Some(diagram) = diagram {
        let cluster = model == "cluster";
        if scenario_options || endpoint.is_some() {
            return Err(format!(
                "{diagram} prints the diagram only: drop the scenario and table options"
            ));
        }
        return Ok(Command::Print(match (cluster, diagram) {
            (true, "--diagram") => ClusterNode::MERMAID,
            (true, _) => ClusterNode::DOT,
            (false, "--diagram") => NightlyBackup::MERMAID,
            (false, _) => NightlyBackup::DOT,
        }));
    }
    if keep_table && endpoint.is_none() {
        return Err("--keep-table keeps the table of --dynamodb-endpoint: give that too".into());
    }
    if model == "backup" {
        if scenario_options {
            return Err(
                "--scenario, --fail-join, --terminate, --spot-interruption, --warm-pool, --lose-event and --no-failures are the cluster model's"
                    .into(),
            );
        }
        return Ok(Command::Run {
            scenario: None,
            endpoint,
            keep_table,
        });
    }
    let explicit_terminate = terminate.is_some();
    let mut scenario = scenario.unwrap_or_default();
    if let Some(ids) = fail_joins {
        scenario.failing_joins = ids.into_iter().collect();
    }
    if no_failures {
        scenario.failing_joins.clear();
    }
    if let Some(ids) = terminate {
        scenario.terminate = ids;
    }
    if let Some(ids) = spot {
        // An interruption brings its own termination: the scenario's (not one asked for here)
        // is dropped for those instances.
        if !explicit_terminate {
            scenario.terminate.retain(|id| !ids.contains(id));
        }
        scenario.spot_interruptions = ids;
    }
    for id in warm_pool {
        let known: Vec<&str> = scenario.nodes.iter().map(|n| n.id.as_str()).collect();
        let known = known.join(", ");
        let node = scenario
            .nodes
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or_else(|| {
                format!("--warm-pool: instance `{id}` is not in the scenario (known: {known})")
            })?;
        node.warm_pool = true;
    }
    scenario.lose_events.extend(lose);
    scenario
        .validate()
        .map_err(|e| format!("--lose-event: {e}"))?;
    Ok(Command::Run {
        scenario: Some(scenario),
        endpoint,
        keep_table,
    })
}

/// `url` if it reads as an http(s) URL with a host: the SDK's own message for anything else is
/// a page of internals.
fn endpoint_url(flag: &str, url: &str) -> Result<String, String> {
    let host = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .map(|rest| rest.split(['/', ':']).next().unwrap_or(""));
    match host {
        Some(host) if !host.is_empty() => Ok(url.to_owned()),
        _ => Err(format!(
            "{flag} `{url}` is not a URL: give one like http://127.0.0.1:8000"
        )),
    }
}

fn print(report: &Report, table: &str) {
    println!(
        "Timeline of the {} model (node table: {table}; SSM, Auto Scaling and time simulated)\n",
        report.model
    );
    let id_width = report
        .timeline
        .iter()
        .map(|s| s.instance.len())
        .chain(report.nodes.iter().map(|n| n.id.len()))
        .max()
        .unwrap_or(8)
        .max("instance".len());
    let event_width = report
        .timeline
        .iter()
        .map(|s| s.event.len())
        .max()
        .unwrap_or(5)
        .max("event".len());
    let states: Vec<String> = report
        .timeline
        .iter()
        .map(|step| match (step.from.as_str(), step.to.as_str()) {
            ("", "") => String::new(),
            ("", to) => to.to_owned(),
            (from, to) if from == to => from.to_owned(),
            (from, to) => format!("{from} → {to}"),
        })
        .collect();
    let state_width = states
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    println!(
        "{:>7}  {:<id_width$}  {:<event_width$}  {:<state_width$}  what",
        "time", "instance", "event", "state"
    );
    for (step, states) in report.timeline.iter().zip(&states) {
        println!(
            "{:>6}s  {:<id_width$}  {:<event_width$}  {:<state_width$}  {}",
            step.at.as_secs(),
            step.instance,
            step.event,
            states,
            step.what
        );
    }
    println!("\n{} events handled\n", report.events);
    println!(
        "{:<id_width$}  {:<8} {:<18} lifecycle actions completed",
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
            "{:<id_width$}  {:<8} {:<18} {}",
            node.id, node.kind, node.state, completions
        );
    }
    println!(
        "\nEach record's stored history (what `lifecycle-local status --instance ID` prints from a real table; times on the simulated clock)"
    );
    for node in &report.nodes {
        print!("\n{}\n{}", node.id, status::steps_table(&node.history));
    }
    if !report.dns.is_empty() {
        println!("\nDNS\n");
        for (name, addresses) in &report.dns {
            let addresses = if addresses.is_empty() {
                "-".to_owned()
            } else {
                addresses.join(", ")
            };
            println!("{name:<26} {addresses}");
        }
    }
    println!(
        "\nThe model's diagram: lifecycle-local --model {} --diagram",
        if report.model == "NightlyBackup" {
            "backup"
        } else {
            "cluster"
        }
    );
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
        .map_err(|e| {
            // The SDK's error names every layer; the last one says what happened.
            let error = e.to_string();
            let cause = error
                .rsplit(": ")
                .next()
                .unwrap_or(&error)
                .trim()
                .to_owned();
            format!("could not create a node table at {endpoint}: {cause}")
        })
}

/// The cluster simulation of `scenario`, or the backup's when there is none.
async fn run<T: lifecycle_aws::store::NodeTable>(
    scenario: Option<&Scenario>,
    table: T,
) -> Result<Report, lifecycle_examples::local::SimulationError> {
    match scenario {
        Some(scenario) => simulate(scenario, table).await,
        None => simulate_backup(table).await,
    }
}

fn main() -> ExitCode {
    let command = match parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("lifecycle-local: {message}\n(lifecycle-local --help lists the options)");
            return ExitCode::from(2);
        }
    };
    let (scenario, endpoint, keep_table) = match command {
        Command::Help => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("lifecycle-local {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::Print(diagram) => {
            print!("{diagram}");
            return ExitCode::SUCCESS;
        }
        Command::Run {
            scenario,
            endpoint,
            keep_table,
        } => (scenario, endpoint, keep_table),
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
            None => run(scenario.as_ref(), MemoryTable::new())
                .await
                .map(|r| (r, "in memory".to_owned()))
                .map_err(|e| e.to_string()),
            Some(url) => {
                let table = dynamodb_table(url).await?;
                let name = table.table().to_owned();
                let client = table.client().clone();
                let result = run(scenario.as_ref(), table)
                    .await
                    .map_err(|e| e.to_string());
                let kept = if keep_table {
                    format!("{name} at {url}, kept")
                } else {
                    match client.delete_table().table_name(&name).send().await {
                        Ok(_) => format!("{name} at {url}, deleted at the end"),
                        Err(_) => format!("{name} at {url}; deleting it failed, delete it by hand"),
                    }
                };
                result.map(|r| (r, kept))
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
