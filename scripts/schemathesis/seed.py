"""Fills the throw-away server of scripts/schemathesis/run with one of everything, through
the API as an administrator, so that generated requests also reach real objects (the
dictionaries of schemathesis.toml name them) and real answers are checked against the
document: two versions of a module and their diff, deployments, a tag, deployment plans
with settings, a deployment request waiting for its second approver, a reserved module
name, authorization data, an end user, integration events and a signed checkpoint.

Usage: seed.py ORIGIN CA_FILE PASSWORD. Prints `export NAME=value` lines for the shell.
Standard library only.
"""

import json
import pathlib
import secrets
import ssl
import sys
import urllib.error
import urllib.request

ORIGIN, CA_FILE, PASSWORD = sys.argv[1:4]
EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "sales"
TLS = ssl.create_default_context(cafile=CA_FILE)


def call(method, path, body=None, token=None, expect=(200, 201, 202, 204)):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(ORIGIN + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, context=TLS) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    if status not in expect:
        sys.exit(f"seed: {method} {path} answered {status}: {text.decode(errors='replace')}")
    return json.loads(text) if text else None


def login(username, password):
    body = {"provider": "it", "username": username, "password": password}
    return call("POST", "/api/v1/auth/login", body)


me = login("schemathesis", PASSWORD)
admin, admin_id = me["token"], me["user"]["id"]

# A second administrator deploys to production, where the author of a version may not
# (separation of duties) and a deployment waits for a second approver.
deployer_password = secrets.token_urlsafe(24)
deployer_id = call(
    "POST",
    "/api/v1/users",
    {"provider": "it", "username": "deployer", "password": deployer_password, "administrator": True},
    admin,
)["id"]
deployer = login("deployer", deployer_password)["token"]
end_user_password = secrets.token_urlsafe(24)
end_user_id = call(
    "POST",
    "/api/v1/users",
    {"provider": "end", "username": "enduser", "password": end_user_password,
     "display_name": "End User", "email": "end.user@example.com"},
    admin,
)["id"]
# An IT user who holds nothing: the run also goes through every operation as them.
developer_password = secrets.token_urlsafe(24)
call("POST", "/api/v1/users",
     {"provider": "it", "username": "developer", "password": developer_password}, admin)

user = {"type": "user", "id": end_user_id}
call("POST", "/api/v1/authz/write", {"operations": [
    {"op": "create_application", "name": "sales", "description": "Sales"},
    {"op": "create_role", "application": "sales", "name": "Rep"},
    {"op": "grant_role", "application": "sales", "role": "Rep", "principal": user},
    {"op": "create_group", "name": "reps"},
    {"op": "add_group_member", "group": "reps", "user": end_user_id},
    {"op": "create_hierarchy", "name": "reports-to", "kind": "reports_to"},
    {"op": "set_parent", "hierarchy": "reports-to", "node": end_user_id, "parent": admin_id},
    {"op": "put_entity", "name": "customer", "owner_hierarchy": "reports-to", "grants": True},
    {"op": "put_records", "entity": "customer", "records": [
        {"key": "c1", "owner": end_user_id}, {"key": "c2"}]},
    {"op": "add_grant", "entity": "customer", "record": "c2",
     "principal": {"type": "group", "name": "reps"}, "actions": ["read"]},
]}, admin)

core = (EXAMPLES / "core-service.yaml").read_text()
ui = (EXAMPLES / "sales-ui.yaml").read_text()
modules = "/api/v1/modules"
call("POST", f"{modules}/core-service/versions", {"source": core, "message": "First"}, admin)
# The second version changes a number and a text: the diff's values are not objects.
core2 = core.replace("max_length: 200", "max_length: 300").replace(
    "description: A company we sell to.", "description: A company we sell to, or might.")
call("POST", f"{modules}/core-service/versions",
     {"source": core2, "message": "Longer names", "parent": 1}, admin)
call("POST", f"{modules}/sales-ui/versions", {"source": ui, "message": "First"}, admin)

call("POST", "/api/v1/environments/development/deployments", {"modules": [
    {"module": "core-service", "version": 2}, {"module": "sales-ui", "version": 1}]}, admin)
call("POST", "/api/v1/applications/sales/tags", {"tag": "1.0", "notes": "First release"}, admin)

settings = {
    "properties": {"sales-ui.DiscountApprovalThreshold": 7500,
                   "sales-ui.SupportAddress": "help@example.com"},
    "endpoints": {"sales-ui.Invoicing": "https://invoicing.example.com/api/v3"},
    "secrets": {"sales-ui.Invoicing": "env:INTEGRATION_SECRET_QUALITY_INVOICING"},
}
plan = call("POST", "/api/v1/deployment-plans", {
    "environment": "quality", "applications": [{"application": "sales", "tag": "1.0"}],
    "settings": settings, "notes": "Quality first"}, deployer)
call("POST", f"/api/v1/deployment-plans/{plan['id']}/run", {}, deployer)
production = call("POST", f"/api/v1/deployment-plans/{plan['id']}/copy", {
    "settings": {**settings, "properties": {"sales-ui.DiscountApprovalThreshold": 9000},
                 "secrets": {"sales-ui.Invoicing": "env:INTEGRATION_SECRET_PRODUCTION_INVOICING"}}},
    deployer)
waiting = call("POST", f"/api/v1/deployment-plans/{production['id']}/run", {}, deployer)
request_id = waiting["request"]
draft = call("POST", f"/api/v1/deployment-plans/{plan['id']}/copy", {"environment": "production"},
             deployer)

call("POST", "/api/v1/module-names", {"name": "payroll", "application": "sales"}, admin)
call("POST", "/api/v1/audit/integration", {"events": [
    {"direction": "outbound", "method": "POST", "target": "https://invoicing.example.com/invoices",
     "status": 201, "duration_ms": 42, "request_id": "seed-1"}]}, admin)
checkpoint = call("POST", "/api/v1/audit/checkpoint", None, admin)

end_user_token = call("POST", "/api/v1/auth/login", {
    "provider": "end", "username": "enduser", "password": end_user_password})["token"]
developer_token = login("developer", developer_password)["token"]

values = {
    "ST_END_USER_TOKEN": end_user_token,
    "ST_DEVELOPER_TOKEN": developer_token,
    "ST_ADMIN_ID": admin_id,
    "ST_DEPLOYER_ID": deployer_id,
    "ST_END_USER_ID": end_user_id,
    "ST_PLAN_ID": plan["id"],
    "ST_PRODUCTION_PLAN_ID": production["id"],
    "ST_DRAFT_PLAN_ID": draft["id"],
    "ST_REQUEST_ID": request_id,
    "ST_LOG_SIZE": checkpoint["size"],
}
for name, value in values.items():
    print(f"export {name}={value}")
