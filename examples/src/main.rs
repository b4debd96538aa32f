//! `lifecycle-local`: runs a simulated Auto Scaling group through the cluster model locally,
//! on the in-memory store, and prints a timeline, each instance's outcome and the diagram.
//!
//! ```text
//! cargo run -p lifecycle-examples -- [--fail-join ID]... [--terminate ID]... [--diagram | --dot]
//! ```

use std::process::ExitCode;

use lifecycle_core::{LifecycleModel, State};
use lifecycle_examples::cluster::ClusterNode;
use lifecycle_examples::local::{Outcome, Scenario, simulate};

const USAGE: &str =
    "usage: lifecycle-local [--fail-join ID]... [--terminate ID]... [--diagram | --dot]

Runs three instances (i-0a1 manager, i-0b2 and i-0c3 workers) through the cluster model on the
in-memory store, with simulated SSM and Auto Scaling. By default i-0c3's join command fails and
i-0b2 is terminated after the launches.

  --fail-join ID   make ID's join command fail (replaces the default; repeatable)
  --terminate ID   terminate ID after the launches (replaces the default; repeatable)
  --no-failures    no join command fails
  --diagram        print the model's Mermaid diagram and exit
  --dot            print the model's Graphviz DOT diagram and exit
  --help           this text";

enum Command {
    Run(Scenario),
    Print(&'static str),
    Help,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut scenario = Scenario::default();
    let mut fail_joins = None::<Vec<String>>;
    let mut terminate = None::<Vec<String>>;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .ok_or_else(|| format!("{flag} needs an instance id"))
        };
        match arg.as_str() {
            "--fail-join" => fail_joins
                .get_or_insert_with(Vec::new)
                .push(value("--fail-join")?),
            "--terminate" => terminate
                .get_or_insert_with(Vec::new)
                .push(value("--terminate")?),
            "--no-failures" => fail_joins = Some(Vec::new()),
            "--diagram" => return Ok(Command::Print(ClusterNode::MERMAID)),
            "--dot" => return Ok(Command::Print(ClusterNode::DOT)),
            "--help" | "-h" => return Ok(Command::Help),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if let Some(ids) = fail_joins {
        scenario.failing_joins = ids.into_iter().collect();
    }
    if let Some(ids) = terminate {
        scenario.terminate = ids;
    }
    Ok(Command::Run(scenario))
}

fn print(outcome: &Outcome) {
    println!("Timeline (cluster model, in-memory store, simulated SSM and Auto Scaling)\n");
    println!(
        "{:>9}  {:<8} {:<16} {:<42} trigger",
        "elapsed", "instance", "event", "state"
    );
    for step in &outcome.timeline {
        let states = if step.from == step.to {
            step.from.name().to_owned()
        } else {
            format!("{} → {}", step.from.name(), step.to.name())
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
    println!("\nInstances\n");
    println!(
        "{:<8} {:<8} {:<18} lifecycle actions completed",
        "instance", "type", "state"
    );
    for node in &outcome.nodes {
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
        println!(
            "{:<8} {:<8} {:<18} {}",
            node.id,
            node.kind,
            node.state.name(),
            if completions.is_empty() {
                "-".to_owned()
            } else {
                completions.join(", ")
            }
        );
    }
    println!("\nDNS\n");
    for (name, addresses) in &outcome.dns {
        println!(
            "{name:<26} {}",
            if addresses.is_empty() {
                "-".to_owned()
            } else {
                addresses.join(", ")
            }
        );
    }
    print!("\nModel diagram (Mermaid)\n\n{}", ClusterNode::MERMAID);
}

fn main() -> ExitCode {
    let command = match parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("lifecycle-local: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => println!("{USAGE}"),
        Command::Print(diagram) => print!("{diagram}"),
        Command::Run(scenario) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a current-thread runtime");
            match runtime.block_on(simulate(&scenario)) {
                Ok(outcome) => print(&outcome),
                Err(e) => {
                    eprintln!("lifecycle-local: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    }
    ExitCode::SUCCESS
}
