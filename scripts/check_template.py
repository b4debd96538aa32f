"""Least privilege and safe commands in deploy/template.yaml, checked on every test run.

Fails on:
- an IAM statement with a wildcard action, or a wildcard resource (`*`, or `*` in an ARN)
  without a condition narrowing it, unless listed in ALLOWED_WILDCARDS with its reason;
- instances allowed anything but tagging themselves with cloud-init's progress tag;
- an SSM document parameter without an `allowedPattern`, or not passed as an environment
  variable (`interpolationType: ENV_VAR`), or a script line with `{{ }}` (parameter splicing);
- an SSM status rule matching a document the template does not define;
- a Lambda not built by `rust-cargolambda` for one binary, or a `release` profile (what SAM
  builds) that is not the measured one.

    python scripts/check_template.py [TEMPLATE]      check (default deploy/template.yaml)
    python scripts/check_template.py --self-test     the checks catch what they must
"""

import copy
import sys
import tomllib
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent

# (resource, statement Sid) -> (why a wildcard resource is needed there, the only actions the
# statement may allow: an action added to such a statement would get the wildcard too).
ALLOWED_WILDCARDS = {
    ("ClusterFunction", "Instances"): (
        "ec2:DescribeInstances has no resource-level permissions",
        {"ec2:DescribeInstances"},
    ),
    ("ClusterFunction", "CancelUnregisteredCommands"): (
        "ssm:ListCommands has no resource-level permissions; ssm:CancelCommand is asked for "
        "commands by id, which IAM cannot name before they exist",
        {"ssm:CancelCommand", "ssm:ListCommands"},
    ),
    ("BackupFunction", "CancelUnregisteredCommands"): (
        "ssm:ListCommands has no resource-level permissions; ssm:CancelCommand is asked for "
        "commands by id, which IAM cannot name before they exist",
        {"ssm:CancelCommand", "ssm:ListCommands"},
    ),
    ("ClusterFunction", "AutoScalingView"): (
        "Auto Scaling's Describe* calls have no resource-level permissions",
        {
            "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeAutoScalingGroups",
            "autoscaling:DescribeWarmPool",
            "autoscaling:DescribeLifecycleHooks",
        },
    ),
}


def as_list(value):
    return value if isinstance(value, list) else [value]


def text_of(value):
    """An ARN as written: a string, or the format string of a Fn::Sub."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return None


def statements(resources):
    """(resource name, statement) for every IAM statement of the template."""
    for name, resource in resources.items():
        kind = resource.get("Type")
        props = resource.get("Properties", {})
        documents = []
        if kind == "AWS::Serverless::Function":
            documents = [p for p in props.get("Policies", []) if isinstance(p, dict)]
        elif kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::SQS::QueuePolicy"):
            documents = [props.get("PolicyDocument", {})]
        elif kind == "AWS::IAM::Role":
            documents = [p.get("PolicyDocument", {}) for p in props.get("Policies", [])]
        for document in documents:
            for statement in as_list(document.get("Statement", [])):
                yield name, statement


def check(template):
    problems = []
    resources = template["Resources"]

    for name, statement in statements(resources):
        sid = statement.get("Sid", "(no Sid)")
        where = f"{name} / {sid}"
        for action in as_list(statement.get("Action", [])):
            if "*" in str(action):
                problems.append(f"{where}: wildcard action {action}")
        narrowed = "Condition" in statement
        for resource in as_list(statement.get("Resource", [])):
            arn = text_of(resource)
            # A group's ARN holds its UUID, unknown before it exists: `*` there still names
            # exactly one group.
            precise = (arn or "").replace("autoScalingGroup:*:autoScalingGroupName/", "")
            if arn is None or "*" not in precise:
                continue
            if (name, sid) in ALLOWED_WILDCARDS:
                allowed = ALLOWED_WILDCARDS[(name, sid)][1]
                extra = sorted(set(map(str, as_list(statement.get("Action", [])))) - allowed)
                if extra:
                    problems.append(f"{where}: {extra} added to a statement allowed a wildcard resource")
                continue
            if arn == "*" or not narrowed:
                problems.append(f"{where}: wildcard resource {arn} with no condition narrowing it")

    # Instances: no right to the node table, and tags only on themselves, only cloud-init's.
    for name, statement in statements(resources):
        if name != "NodeRegistrationPolicy":
            continue
        actions = as_list(statement.get("Action", []))
        if any(not str(a).startswith("ec2:CreateTags") for a in actions):
            problems.append(f"{name}: instances may only tag themselves, not {actions}")
        condition = statement.get("Condition", {})
        if condition.get("StringEquals", {}).get("aws:ARN") != "${ec2:SourceInstanceARN}":
            problems.append(f"{name}: CreateTags is not limited to the instance itself (aws:ARN)")
        if condition.get("ForAllValues:StringEquals", {}).get("aws:TagKeys") != ["lifecycle:cloud-init"]:
            problems.append(f"{name}: CreateTags is not limited to the lifecycle:cloud-init tag")

    documents = {}
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::SSM::Document":
            continue
        props = resource["Properties"]
        documents[props.get("Name", name)] = name
        content = props["Content"]
        for param, spec in content.get("parameters", {}).items():
            if "allowedPattern" not in spec:
                problems.append(f"{name}: parameter {param} has no allowedPattern")
            if spec.get("interpolationType") != "ENV_VAR":
                problems.append(f"{name}: parameter {param} is not interpolationType ENV_VAR")
        for step in content.get("mainSteps", []):
            for line in step.get("inputs", {}).get("runCommand", []):
                line = text_of(line) or ""
                if "{{" in line:
                    problems.append(f"{name}: script line splices a parameter: {line!r}")

    def document_names(pattern):
        return pattern.get("detail", {}).get("document-name", [])

    for name, resource in resources.items():
        patterns = []
        if resource.get("Type") == "AWS::Events::Rule":
            patterns.append(resource["Properties"].get("EventPattern", {}))
        if resource.get("Type") == "AWS::Serverless::Function":
            for event in resource["Properties"].get("Events", {}).values():
                if event.get("Type") == "EventBridgeRule":
                    patterns.append(event["Properties"].get("Pattern", {}))
        for pattern in patterns:
            if "aws.ssm" not in pattern.get("source", []):
                continue
            names = document_names(pattern)
            if not names:
                problems.append(f"{name}: an SSM status rule must name its documents")
            for document in names:
                if document not in documents:
                    problems.append(f"{name}: matches document {document}, which the template does not define")

    # A rule whose target queue does not let it send is silently dropped by EventBridge.
    allowed = set()
    for resource in resources.values():
        if resource.get("Type") != "AWS::SQS::QueuePolicy":
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            for arn in statement.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn", []):
                get_att = arn.get("Fn::GetAtt") if isinstance(arn, dict) else None
                if isinstance(get_att, str):
                    get_att = get_att.split(".")
                allowed.add(".".join(get_att) if get_att else text_of(arn) or str(arn))
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Events::Rule":
            continue
        for target in resource["Properties"].get("Targets", []):
            if "EventQueue" in str(target.get("Arn")) and f"{name}.Arn" not in allowed:
                problems.append(f"{name}: targets the event queue, whose policy does not let it send")

    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        metadata = resource.get("Metadata", {})
        if metadata.get("BuildMethod") != "rust-cargolambda":
            problems.append(f"{name}: not built with rust-cargolambda")
        if not metadata.get("BuildProperties", {}).get("Binary"):
            problems.append(f"{name}: no BuildProperties.Binary (a plain build packages every binary)")

    profile = tomllib.loads((ROOT / "Cargo.toml").read_text())["profile"]["release"]
    if profile.get("lto") is not True or profile.get("opt-level") != "s" or not profile.get("strip"):
        problems.append("Cargo.toml: [profile.release], what SAM builds, is not the measured one (lto = true, opt-level = \"s\", strip)")
    return problems


def self_test(template):
    """Each check fires on a template broken the way it guards against."""

    def broken(change):
        t = copy.deepcopy(template)
        change(t["Resources"])
        return check(t)

    def wildcard_action(r):
        r["ClusterFunction"]["Properties"]["Policies"][0]["Statement"][0]["Action"].append("dynamodb:*")

    def wildcard_resource(r):
        r["ClusterFunction"]["Properties"]["Policies"][0]["Statement"][0]["Resource"] = "*"

    def no_pattern(r):
        del r["ClusterJoinDocument"]["Properties"]["Content"]["parameters"]["Role"]["allowedPattern"]

    def spliced(r):
        r["BackupDocument"]["Properties"]["Content"]["mainSteps"][0]["inputs"]["runCommand"].append("backup {{Destination}}")

    def foreign_document(r):
        r["CommandStatusRule"]["Properties"]["EventPattern"]["detail"]["document-name"].append("AWS-RunShellScript")

    def unconditioned_instances(r):
        for statement in r["ClusterFunction"]["Properties"]["Policies"][0]["Statement"]:
            statement.pop("Condition", None)

    def instances_write_the_table(r):
        r["NodeRegistrationPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Action"].append("dynamodb:UpdateItem")

    def tag_any_instance(r):
        del r["NodeRegistrationPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]["StringEquals"]["aws:ARN"]

    def action_added_to_a_wildcard_statement(r):
        for statement in r["ClusterFunction"]["Properties"]["Policies"][0]["Statement"]:
            if statement.get("Sid") == "AutoScalingView":
                statement["Action"].append("autoscaling:UpdateAutoScalingGroup")

    def rule_not_allowed(r):
        arns = r["EventQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]
        arns.pop()

    for change in (
        action_added_to_a_wildcard_statement,
        rule_not_allowed,
        wildcard_action,
        wildcard_resource,
        no_pattern,
        spliced,
        foreign_document,
        unconditioned_instances,
        instances_write_the_table,
        tag_any_instance,
    ):
        if not broken(change):
            return [f"self-test: {change.__name__} was not caught"]
    return []


def main():
    args = sys.argv[1:]
    test = "--self-test" in args
    args = [a for a in args if a != "--self-test"]
    path = Path(args[0]) if args else ROOT / "deploy" / "template.yaml"
    template = cfn_yaml.load(str(path))
    problems = self_test(template) if test else check(template)
    for problem in problems:
        print(f"check_template: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"check_template: {path.name} {'self-test' if test else 'checks'} pass")


if __name__ == "__main__":
    main()
