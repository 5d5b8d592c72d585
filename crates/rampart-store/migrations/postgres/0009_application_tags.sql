-- Application versions: a tag names a snapshot of the versions of an application's modules
-- ({module: version}, JSON) with release notes. Tags are immutable; a tagged module version
-- cannot be deleted.
CREATE TABLE application_tags (
    app_num    BIGINT NOT NULL REFERENCES authz_applications (num),
    tag        TEXT NOT NULL,
    modules    TEXT NOT NULL,
    notes      TEXT NOT NULL,
    created_by TEXT NOT NULL,
    creator    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_num, tag)
);

-- The module versions each tag holds, so deleting one of them can be refused.
CREATE TABLE application_tag_versions (
    app_num    BIGINT NOT NULL,
    tag        TEXT NOT NULL,
    module_num BIGINT NOT NULL,
    number     BIGINT NOT NULL,
    PRIMARY KEY (app_num, tag, module_num),
    FOREIGN KEY (app_num, tag) REFERENCES application_tags (app_num, tag),
    FOREIGN KEY (module_num, number) REFERENCES module_versions (module_num, number)
);
CREATE INDEX application_tag_versions_version ON application_tag_versions (module_num, number);
