# The pinned Python tools the tests and the template gate use, each installed on first use into
# a virtualenv of the repository (sourced by scripts/test and scripts/check-template).

MOTO_VERSION=5.2.5
CFN_LINT_VERSION=1.58.0
SAM_CLI_VERSION=1.170.0
SAM_TRANSLATOR_VERSION=1.115.0
PARLIAMENT_VERSION=1.6.4
POLICY_SENTRY_VERSION=0.15.2
CHECKOV_VERSION=3.3.30
VENV=.venv
# aws-sam-cli and checkov pin their own boto3 and cfn-lint: a virtualenv each.
SAM_VENV=.venv-sam
CHECKOV_VENV=.venv-checkov

pip_install() {
  local venv=$1; shift
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  echo "scripts: installing $* into $venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
}

has_version() {
  "$1/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$2') != '$3')" 2>/dev/null
}

ensure_moto() {
  has_version "$VENV" moto "$MOTO_VERSION" || pip_install "$VENV" "moto[server]==$MOTO_VERSION"
}

ensure_template_tools() {
  has_version "$VENV" cfn-lint "$CFN_LINT_VERSION" || pip_install "$VENV" "cfn-lint==$CFN_LINT_VERSION"
  has_version "$VENV" aws-sam-translator "$SAM_TRANSLATOR_VERSION" \
    || pip_install "$VENV" "aws-sam-translator==$SAM_TRANSLATOR_VERSION"
  has_version "$VENV" parliament "$PARLIAMENT_VERSION" || pip_install "$VENV" "parliament==$PARLIAMENT_VERSION"
  has_version "$VENV" policy_sentry "$POLICY_SENTRY_VERSION" \
    || pip_install "$VENV" "policy-sentry==$POLICY_SENTRY_VERSION"
  has_version "$SAM_VENV" aws-sam-cli "$SAM_CLI_VERSION" || pip_install "$SAM_VENV" "aws-sam-cli==$SAM_CLI_VERSION"
  has_version "$CHECKOV_VENV" checkov "$CHECKOV_VERSION" || pip_install "$CHECKOV_VENV" "checkov==$CHECKOV_VERSION"
}
