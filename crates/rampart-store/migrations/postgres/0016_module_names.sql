-- Module names reserved for an application before any module of that name is registered.
-- A name is either reserved here or registered in `it_modules`, never both: registering a
-- reserved name (by a publish or by an administrator) consumes the reservation, and only
-- the application it is reserved for may register it. Administrators reserve, transfer and
-- release names; each change is an audit event naming the application.
CREATE TABLE module_names (
    name        TEXT PRIMARY KEY,
    app_num     BIGINT NOT NULL REFERENCES authz_applications (num),
    reserved_at BIGINT NOT NULL
);
