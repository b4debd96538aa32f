#!/bin/bash
# cloud-init user data for the cluster's instances: register the instance in the node table
# first, do the instance's own set-up, and as the very last line mark it ready for its
# lifecycle (finished_cloud_init). Both writes are update-item, never put-item: a launch that
# arrived while cloud-init ran is parked on the item (PendingLifecycle) and must survive.
#
# Needs the AWS CLI and an instance role with the stack's NodeRegistrationPolicy.
# Set TABLE and ITEM_TYPE (manager or worker), e.g. from the launch template.
set -euo pipefail

TABLE="${TABLE:-lifecycle-nodes}"
ITEM_TYPE="${ITEM_TYPE:-worker}"

imds() {
  local token
  token=$(curl -sS -X PUT "http://169.254.169.254/latest/api/token" \
    -H "X-aws-ec2-metadata-token-ttl-seconds: 60")
  curl -sS -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/$1"
}

INSTANCE_ID=$(imds meta-data/instance-id)
INSTANCE_IP=$(imds meta-data/local-ipv4)
export AWS_DEFAULT_REGION=$(imds meta-data/placement/region)

key=$(printf '{"Ident": {"S": "%s"}}' "$INSTANCE_ID")

# 1. Register: the instance exists, its lifecycle must wait.
aws dynamodb update-item --table-name "$TABLE" --key "$key" \
  --update-expression "SET ItemStatus = if_not_exists(ItemStatus, :pending), ItemType = :type, InstanceIp = :ip" \
  --expression-attribute-values "$(printf '{":pending": {"S": "pending"}, ":type": {"S": "%s"}, ":ip": {"S": "%s"}}' "$ITEM_TYPE" "$INSTANCE_IP")"

# 2. The instance's own set-up goes here (packages, the cluster agent, ...).

# 3. Last line: ready for the lifecycle. The table's stream resumes a parked launch.
aws dynamodb update-item --table-name "$TABLE" --key "$key" \
  --update-expression "SET ItemStatus = :ready" \
  --condition-expression "ItemStatus IN (:new, :pending)" \
  --expression-attribute-values '{":ready": {"S": "finished_cloud_init"}, ":new": {"S": "new"}, ":pending": {"S": "pending"}}'
