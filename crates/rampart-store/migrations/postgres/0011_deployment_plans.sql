-- Deployment plans: applications at tagged versions, with the settings one environment
-- needs (site properties, integration endpoints, secret references: never secrets). A plan
-- is a draft until it runs; a run finishes it, leaves it waiting for a second approver, or
-- aborts it with the reason (an aborted plan can run again). `based_on` is the plan it was
-- copied from for the next environment. `applications` is JSON [{application, tag}];
-- `settings` is JSON {properties, endpoints, secrets}, each {"module.name": value}.
CREATE TABLE deployment_plans (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    environment  TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('draft', 'waiting', 'finished', 'aborted')),
    applications TEXT NOT NULL,
    settings     TEXT NOT NULL,
    notes        TEXT NOT NULL,
    based_on     BIGINT REFERENCES deployment_plans (id),
    created_by   TEXT NOT NULL,
    creator      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    runs         BIGINT NOT NULL DEFAULT 0,
    request_id   BIGINT REFERENCES deployment_requests (id),
    error        TEXT
);
CREATE INDEX deployment_plans_env ON deployment_plans (environment, id);

-- The settings in force in each environment, written in the transaction of the deployment
-- that applied them.
CREATE TABLE environment_settings (
    environment TEXT NOT NULL,
    module_num  BIGINT NOT NULL REFERENCES it_modules (num),
    kind        TEXT NOT NULL CHECK (kind IN ('property', 'endpoint', 'secret')),
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    plan_id     BIGINT NOT NULL REFERENCES deployment_plans (id),
    PRIMARY KEY (environment, module_num, kind, name)
);

-- A deployment request made by running a plan.
ALTER TABLE deployment_requests ADD COLUMN plan_id BIGINT;
