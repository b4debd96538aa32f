#!/bin/bash
# cloud-init user data for the cluster's instances: say how far cloud-init got by tagging the
# instance itself, first `registered`, and as the very last line `finished`. The instance has
# no right to write the node table: on each tag change the Lambda writes the instance's record
# from what EC2 says about it (its private address, its Auto Scaling group), and `finished`
# moves it to finished_cloud_init, which resumes a launch parked while cloud-init ran.
#
# Needs the AWS CLI and the stack's instance profile (ManagerInstanceProfile or
# WorkerInstanceProfile), whose NodeRegistrationPolicy allows ec2:CreateTags on this instance
# only, for this one tag only, with these two values only.
set -euo pipefail

imds() {
  local token
  token=$(curl -sS -X PUT "http://169.254.169.254/latest/api/token" \
    -H "X-aws-ec2-metadata-token-ttl-seconds: 60")
  curl -sS -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/$1"
}

INSTANCE_ID=$(imds meta-data/instance-id)
AWS_DEFAULT_REGION=$(imds meta-data/placement/region)
export AWS_DEFAULT_REGION

progress() {
  aws ec2 create-tags --resources "$INSTANCE_ID" --tags "Key=lifecycle:cloud-init,Value=$1"
}

# 1. Registered: the instance exists, its lifecycle waits.
progress registered

# 2. The instance's own set-up goes here (packages, the cluster agent, ...).

# 3. Last line: ready for the lifecycle.
progress finished
