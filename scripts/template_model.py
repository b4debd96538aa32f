"""What CloudFormation deploys from a SAM template, in a form the checks can read.

`transform` runs AWS SAM's own translator (the library `sam deploy` uses) on the template, so
the checks see the roles, policies, permissions and rules SAM adds, not only what the source
spells. `Resolver` turns a policy's intrinsic functions into the strings CloudFormation would
put there, for a sample set of parameters, so that tools which read plain IAM JSON
(parliament) can judge it.
"""

import copy
import logging
import re

import boto3

from samtranslator.parser import parser as sam_parser
from samtranslator.translator.translator import Translator

# SAM's translator counts what it translates for CloudWatch and warns, once per template, that
# nothing was published: offline, nothing is.
logging.getLogger("samtranslator").setLevel(logging.ERROR)

PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "eu-central-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "lifecycle",
    "AWS::URLSuffix": "amazonaws.com",
}

# Parameters with no default get these values when a policy is resolved.
SAMPLE_PARAMETERS = {
    "ManagerGroupName": "cluster-managers",
    "WorkerGroupName": "cluster-workers",
    "BackupInstance": "i-0123456789abcdef0",
    "BackupDestination": "s3://backups/nightly",
    "HostedZoneId": "Z0123456789ABCDEFGHIJ",
    "ManagerDnsName": "managers.cluster.example.com",
    "WorkerDnsName": "workers.cluster.example.com",
}


class AnyManagedPolicy(dict):
    """SAM looks AWS managed policies up by name in IAM; offline, every name is taken to be
    one, so a function given one by name shows up in the transformed template."""

    def __contains__(self, name):
        return True

    def __missing__(self, name):
        return f"arn:aws:iam::aws:policy/{name}"


def transform(template):
    """The template as CloudFormation receives it from SAM (the deploy's own translator)."""
    source = copy.deepcopy(template)
    for resource in source.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            # What `sam package` puts in place of the local build.
            resource.setdefault("Properties", {})["CodeUri"] = "s3://lifecycle-artifacts/code.zip"
    # A session with a region and no credentials: SAM asks it only for the region.
    session = boto3.session.Session(region_name=PSEUDO["AWS::Region"])
    translator = Translator(managed_policy_map=None, sam_parser=sam_parser.Parser(), boto_session=session)
    return translator.translate(
        sam_template=source,
        parameter_values=dict(PSEUDO),
        get_managed_policy_map=AnyManagedPolicy,
    )


# ARN shapes of what `!GetAtt X.Arn` names, by resource type, so that a resolved policy has the
# resource types the actions expect.
ARN_OF = {
    "AWS::SQS::Queue": "arn:aws:sqs:eu-central-1:123456789012:{name}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:eu-central-1:123456789012:table/{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/lambda/{name}:*",
    "AWS::Events::Rule": "arn:aws:events:eu-central-1:123456789012:rule/{name}",
    "AWS::IAM::Role": "arn:aws:iam::123456789012:role/{name}",
    "AWS::IAM::InstanceProfile": "arn:aws:iam::123456789012:instance-profile/{name}",
    "AWS::IAM::ManagedPolicy": "arn:aws:iam::123456789012:policy/{name}",
    "AWS::Lambda::Function": "arn:aws:lambda:eu-central-1:123456789012:function:{name}",
    "AWS::SNS::Topic": "arn:aws:sns:eu-central-1:123456789012:{name}",
}


class Resolver:
    """Evaluates intrinsic functions the way CloudFormation would for one set of parameters."""

    def __init__(self, template, parameters=None):
        self.template = template
        self.resources = template.get("Resources", {})
        self.values = dict(PSEUDO)
        for name, spec in template.get("Parameters", {}).items():
            value = (parameters or {}).get(name, SAMPLE_PARAMETERS.get(name, spec.get("Default", "x")))
            self.values[name] = str(value)
        self.conditions = {}
        for name in template.get("Conditions", {}):
            self.conditions[name] = self.condition(name)

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self.conditions[name]

    def ref(self, name):
        if name == "AWS::NoValue":
            return None
        if name in self.values:
            return self.values[name]
        if name in self.resources:
            kind = self.resources[name].get("Type")
            if kind in ("AWS::IAM::ManagedPolicy", "AWS::SNS::Topic"):
                return ARN_OF[kind].format(name=name)
            return name
        return f"<unresolved Ref {name}>"

    def get_att(self, name, attribute):
        kind = self.resources.get(name, {}).get("Type")
        if attribute == "Arn" and kind in ARN_OF:
            return ARN_OF[kind].format(name=name)
        if attribute == "StreamArn":
            return f"arn:aws:dynamodb:eu-central-1:123456789012:table/{name}/stream/2026-01-01T00:00:00.000"
        if attribute == "QueueName":
            return name
        return f"{name}.{attribute}"

    def sub(self, text, variables):
        def one(match):
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                return str(self.value(variables[inner]))
            if "." in inner and inner.split(".", 1)[0] in self.resources:
                return str(self.get_att(*inner.split(".", 1)))
            return str(self.ref(inner))

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def value(self, node):
        """The plain value of `node` (intrinsics evaluated); None for AWS::NoValue."""
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not None]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                parts = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.get_att(parts[0], parts[1])
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return self.sub(arg, {})
                return self.sub(arg[0], arg[1])
            if key == "Fn::If":
                name, yes, no = arg
                return self.value(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                a, b = (self.value(v) for v in arg)
                return a == b
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::And":
                return all(self.value(v) for v in arg)
            if key == "Fn::Or":
                return any(self.value(v) for v in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Join":
                return arg[0].join(str(v) for v in self.value(arg[1]))
            if key == "Fn::Select":
                return self.value(arg[1])[int(self.value(arg[0]))]
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not None}
