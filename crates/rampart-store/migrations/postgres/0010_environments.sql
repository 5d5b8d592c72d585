-- The environments in promotion order (position 0 is where modules are authored; staging
-- promotes to the next) and their lifecycle policies. Administrators replace the whole list
-- with the `set_environments` operation of /api/v1/it; every node rebuilds its index then.
CREATE TABLE it_environments (
    name                 TEXT PRIMARY KEY,
    position             BIGINT NOT NULL UNIQUE,
    separation_of_duties BOOLEAN NOT NULL,
    second_approver      BOOLEAN NOT NULL
);

INSERT INTO it_environments (name, position, separation_of_duties, second_approver) VALUES
    ('development', 0, FALSE, FALSE),
    ('quality', 1, FALSE, FALSE),
    ('production', 2, TRUE, TRUE);
