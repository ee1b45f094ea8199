"""Checks infra/template.yaml against the outside contract (docs/operations.md, CONTRACT routes).

cfn-lint and `sam validate` prove the template is deployable; this proves it is the one we
mean: every contract route is served by the intended function, only the Stripe webhook and
the OAuth callback skip the JWT authorizer, every function is an arm64 cargo-lambda build,
the table has the agreed keys, and region pinning is in place.

Usage: check_template.py TEMPLATE   (exit 1 and one line per problem on failure)
"""

import sys

from cfnlint.decode import decode

# (method, path) -> (function logical id, authorized by the workspace JWT)
ROUTES = {
    ("POST", "/webhooks/stripe"): ("WebhookFunction", False),
    ("POST", "/webhooks/stripe/c/{connection_id}"): ("WebhookFunction", False),
    ("GET", "/api/v1/integrations/stripe/connect"): ("ConnectFunction", True),
    ("GET", "/api/v1/integrations/stripe/oauth/callback"): ("ConnectFunction", False),
    ("POST", "/api/v1/integrations/stripe/api-key"): ("ConnectFunction", True),
    ("PUT", "/api/v1/integrations/stripe/webhook-secret"): ("ConnectFunction", True),
    ("GET", "/api/v1/integrations/stripe"): ("ApiFunction", True),
    ("POST", "/api/v1/integrations/stripe/sync"): ("ApiFunction", True),
    ("POST", "/api/v1/integrations/stripe/backfill"): ("ApiFunction", True),
    ("POST", "/api/v1/integrations/stripe/failed-events/{event_id}/replay"): ("ApiFunction", True),
    ("GET", "/api/v1/integrations/stripe/matches"): ("ApiFunction", True),
    ("PATCH", "/api/v1/integrations/stripe/customer-mapping/{profile_id}"): ("ApiFunction", True),
    ("POST", "/api/v1/integrations/stripe/rematch"): ("ApiFunction", True),
    ("PUT", "/api/v1/profiles/{profile_id}"): ("ApiFunction", True),
    ("GET", "/api/v1/profiles/{profile_id}"): ("ApiFunction", True),
    ("POST", "/api/v1/profiles:batch"): ("ApiFunction", True),
    ("GET", "/api/v1/churn/at-risk"): ("ApiFunction", True),
    ("GET", "/api/v1/profiles/{profile_id}/churn"): ("ApiFunction", True),
    ("POST", "/api/v1/webhook-endpoints"): ("ApiFunction", True),
    ("GET", "/api/v1/webhook-endpoints"): ("ApiFunction", True),
    ("DELETE", "/api/v1/webhook-endpoints/{id}"): ("ApiFunction", True),
    ("GET", "/api/v1/webhook-endpoints/{id}/deliveries"): ("ApiFunction", True),
    ("POST", "/api/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/replay"): ("ApiFunction", True),
    ("DELETE", "/api/v1/integrations/stripe"): ("DisconnectFunction", True),
    ("POST", "/api/v1/integrations/stripe/erase"): ("DisconnectFunction", True),
}

BINARIES = {
    "WebhookFunction": "kustiq-webhook",
    "ConnectFunction": "kustiq-connect",
    "ApiFunction": "kustiq-api",
    "DisconnectFunction": "kustiq-disconnect",
    "SyncFunction": "kustiq-sync",
    "ScoringFunction": "kustiq-scoring",
    "EventsFunction": "kustiq-events",
}

REQUIRED_ENV = {"KUSTIQ_REGION", "KUSTIQ_TABLE", "KUSTIQ_KMS_KEY_ID", "KUSTIQ_SECRETS_PREFIX"}


def check_policies(function: str, policies: list) -> list[str]:
    """Least privilege: no wildcard resources, and KMS use only under a condition
    (an encryption context, or a call made through DynamoDB / Secrets Manager)."""
    problems = []
    for policy in policies:
        if not isinstance(policy, dict):
            continue
        for stmt in policy.get("Statement", []):
            actions = stmt.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            resources = stmt.get("Resource", [])
            resources = [resources] if not isinstance(resources, list) else resources
            sid = stmt.get("Sid", "?")
            if "*" in resources:
                problems.append(f"{function}: statement {sid} grants {actions} on Resource '*'")
            conditions = stmt.get("Condition") or {}
            if any(str(a).startswith("kms:") for a in actions) and not any(conditions.values()):
                problems.append(f"{function}: statement {sid} uses KMS without a condition")
    return problems


def check(template: dict) -> list[str]:
    problems = []
    resources = template.get("Resources", {})
    globals_fn = template.get("Globals", {}).get("Function", {})

    def fn_prop(res, name):
        return res.get("Properties", {}).get(name, globals_fn.get(name))

    functions = {k: v for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function"}
    if set(functions) != set(BINARIES):
        problems.append(f"functions are {sorted(functions)}, expected {sorted(BINARIES)}")

    served = {}
    for name, res in functions.items():
        meta = res.get("Metadata", {})
        if meta.get("BuildMethod") != "rust-cargolambda":
            problems.append(f"{name}: Metadata.BuildMethod must be rust-cargolambda")
        binary = meta.get("BuildProperties", {}).get("Binary")
        if name in BINARIES and binary != BINARIES[name]:
            problems.append(f"{name}: builds binary {binary!r}, expected {BINARIES[name]!r}")
        if fn_prop(res, "Runtime") != "provided.al2023":
            problems.append(f"{name}: runtime must be provided.al2023")
        if fn_prop(res, "Architectures") != ["arm64"]:
            problems.append(f"{name}: architecture must be arm64")
        env = set(globals_fn.get("Environment", {}).get("Variables", {}))
        env |= set(res.get("Properties", {}).get("Environment", {}).get("Variables", {}))
        missing = REQUIRED_ENV - env
        if missing:
            problems.append(f"{name}: environment lacks {sorted(missing)}")
        problems.extend(check_policies(name, res.get("Properties", {}).get("Policies", [])))
        if "LogGroup" not in (res.get("Properties", {}).get("LoggingConfig") or {}):
            problems.append(f"{name}: no LoggingConfig.LogGroup (log retention would be unmanaged)")

        for event_name, event in res.get("Properties", {}).get("Events", {}).items():
            if event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties", {})
            route = (props.get("Method", "").upper(), props.get("Path"))
            authorized = (props.get("Auth") or {}).get("Authorizer") != "NONE"
            if route in served:
                problems.append(f"{route[0]} {route[1]} is served twice")
            served[route] = (name, authorized)

    for route, want in ROUTES.items():
        got = served.get(route)
        if got is None:
            problems.append(f"contract route {route[0]} {route[1]} is not in the template")
        elif got != want:
            problems.append(f"{route[0]} {route[1]}: served by {got[0]} (jwt={got[1]}), "
                            f"expected {want[0]} (jwt={want[1]})")
    for route in served.keys() - ROUTES.keys():
        problems.append(f"{route[0]} {route[1]} is not a contract route: add it to scripts/check_template.py")

    api = resources.get("HttpApi", {}).get("Properties", {})
    auth = api.get("Auth", {})
    if auth.get("DefaultAuthorizer") not in auth.get("Authorizers", {}):
        problems.append("HttpApi: the default authorizer must be a defined JWT authorizer")

    table = resources.get("MainTable", {}).get("Properties", {})
    keys = {(k["AttributeName"], k["KeyType"]) for k in table.get("KeySchema", [])}
    if keys != {("pk", "HASH"), ("sk", "RANGE")}:
        problems.append(f"MainTable: key schema {sorted(keys)}, expected pk HASH / sk RANGE")
    indexes = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
    if indexes != {"gsi1", "gsi2"}:
        problems.append(f"MainTable: GSIs {sorted(indexes)}, expected gsi1 and gsi2")
    if table.get("TimeToLiveSpecification", {}).get("AttributeName") != "ttl":
        problems.append("MainTable: TTL attribute must be ttl")
    if table.get("BillingMode") != "PAY_PER_REQUEST":
        problems.append("MainTable: BillingMode must be PAY_PER_REQUEST")
    if not table.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
        problems.append("MainTable: point-in-time recovery must be on")
    if table.get("SSESpecification", {}).get("SSEType") != "KMS":
        problems.append("MainTable: SSE must use the stack's KMS key")

    key = resources.get("DataKey", {}).get("Properties", {})
    if key.get("EnableKeyRotation") is not True:
        problems.append("DataKey: key rotation must be on")

    rules = template.get("Rules", {})
    pinned = set()
    for rule in rules.values():
        cond = rule.get("RuleCondition", {}).get("Fn::Equals", [])
        for assertion in rule.get("Assertions", []):
            target = assertion.get("Assert", {}).get("Fn::Equals", [])
            if len(cond) == 2 and len(target) == 2:
                pinned.add((cond[1], target[1]))
    if not {("eu", "eu-central-1"), ("us", "us-east-1")} <= pinned:
        problems.append(f"Rules must pin eu to eu-central-1 and us to us-east-1 (found {sorted(pinned)})")

    return problems


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    template, matches = decode(sys.argv[1])
    if matches:
        for m in matches:
            print(f"{sys.argv[1]}: {m}", file=sys.stderr)
        return 1
    problems = check(template)
    for p in problems:
        print(f"{sys.argv[1]}: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"{sys.argv[1]}: {len(ROUTES)} contract routes, {len(BINARIES)} functions, table and pinning as agreed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
