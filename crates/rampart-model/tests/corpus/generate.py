#!/usr/bin/env python3
"""Writes the security checks' corpus: small modules, each vulnerable (`*-bad-*`) or a safe
look-alike of the same shape (`*-good-*`), with the rule ids the checks must find in its
first line (`# expect: RS001` or `# expect: none`). The corpus test
(tests/checks/corpus.rs) measures precision and recall per rule over these files.

Run it from anywhere; it rewrites every `rs*.yaml` here (and `deps/`). The files are
committed: this script only says how they were made.
"""

import pathlib

HERE = pathlib.Path(__file__).resolve().parent

# The dependency some cases use: entities in two databases, public and private, and an
# action whose parameter reaches an inline SQL parameter.
DEP = """\
module: corpusdep
application: corpus
kind: library
roles:
  - {name: Reader, public: true}
entities:
  - name: Pub
    public: true
    attributes: [{name: title, type: text}]
  - name: Priv
    attributes: [{name: title, type: text}]
  - name: Far
    database: crm
    public: true
    attributes: [{name: title, type: text}]
queries:
  - name: Sorted
    entity: Pub
    parameters:
      - {name: order, type: text, inline: true}
    sql: SELECT id, title FROM pub ORDER BY :order
  - name: Listed
    entity: Pub
    parameters:
      - {name: order, type: text, inline: true, choices: [title, title DESC]}
    sql: SELECT id, title FROM pub ORDER BY :order
actions:
  - name: SortPub
    public: true
    anonymous: true
    parameters: [{name: order, type: text}]
    steps:
      - query: {query: Sorted, args: {order: params.order}, into: rows}
  - name: SafePub
    public: true
    anonymous: true
    parameters: [{name: order, type: text}]
    steps:
      - query: {query: Sorted, args: {order: 'one_of(params.order, "title", "id")'}, into: rows}
  - name: ShowPub
    public: true
    anonymous: true
    parameters: [{name: next, type: text}]
    steps:
      - redirect: {target: params.next}
"""

HEAD = """\
module: {name}
application: corpus
roles:
  - {{name: Rep, description: Sells.}}
"""

# A plain entity: no ACL, nothing sensitive, no user reference.
NOTE = """\
  - name: Note
    attributes:
      - {name: title, type: text}
      - {name: body, type: text}
      - {name: amount, type: integer}
"""

# A screen that reads Note with a role (so queries over Note are open in the data API).
NOTES_SCREEN = """\
  - name: Notes
    kind: list
    entity: Note
    roles: [Rep]
    widgets:
      - {kind: table, columns: [record.title]}
"""


def module(name, entities=NOTE, queries="", screens=NOTES_SCREEN, actions="", integrations="",
           properties="", dependencies="", extra=""):
    text = HEAD.format(name=name)
    if extra:
        text += extra
    text += "entities:\n" + entities
    for key, block in [("queries", queries), ("screens", screens), ("actions", actions),
                       ("integrations", integrations), ("properties", properties),
                       ("dependencies", dependencies)]:
        if block:
            text += f"{key}:\n{block}"
    return text


CASES = {}


def case(rule, kind, expect, **parts):
    n = sum(1 for k in CASES if k.startswith(f"{rule}-{kind}-")) + 1
    name = f"{rule}-{kind}-{n}"
    CASES[name] = (expect, module(name, **parts))


FORM = """\
  - name: Edit
    kind: form
    entity: Note
    roles: [Rep]
    widgets:
      - {kind: field, value: body}
"""

SORT_Q = """\
  - name: ByOrder
    entity: Note
    parameters:
      - {{name: sort, type: {ty}, inline: true{more}}}
    sql: SELECT id, title FROM note ORDER BY :sort
"""

# An entity nobody reads through a screen or returns: its queries are open only through the
# actions with roles that run them.
HIDDEN = NOTE + """\
  - name: Log
    attributes:
      - {name: line, type: text}
"""
LOG_Q = """\
  - name: LogBy
    entity: Log
    parameters:
      - {name: sort, type: text, inline: true}
    sql: SELECT id, line FROM log ORDER BY :sort
"""


def log_action(arg, params="[{name: s, type: text}]", pre=""):
    return f"""\
  - name: ReadLog
    anonymous: true
    parameters: {params}
    steps:
{pre}      - query: {{query: LogBy, args: {{sort: '{arg}'}}, into: rows}}
"""


INVOICING = """\
  - name: Remote
    base_url: https://remote.example.com/api
    methods:
      - {name: get, method: GET, path: "/items/{id}"}
      - {name: find, method: GET, path: /items}
      - {name: post, method: POST, path: /items}
      - {name: remove, method: DELETE, path: /items}
      - {name: byToken, method: POST, path: "/sessions/{token}"}
"""

# RS001 SQL injection.
case("rs001", "bad", ["RS001"], queries=SORT_Q.format(ty="text", more=""))
case("rs001", "bad", ["RS001"], queries=SORT_Q.format(ty="email", more=""))
case("rs001", "bad", ["RS001"], entities=HIDDEN, queries=LOG_Q, actions=log_action("params.s"))
case("rs001", "bad", ["RS001"], entities=HIDDEN, queries=LOG_Q,
     actions=log_action('"line " + params.s'))
case("rs001", "bad", ["RS001"], entities=HIDDEN, queries=LOG_Q + """\
  - name: Titles
    entity: Note
    sql: SELECT id, title FROM note
""", screens=NOTES_SCREEN + FORM, actions=log_action("first.title", params="[]",
                         pre="      - query: {query: Titles, into: first}\n"))
case("rs001", "bad", ["RS001"], entities=HIDDEN, queries=LOG_Q, integrations=INVOICING,
     actions=log_action("answer", params="[]",
                        pre="      - call: {integration: Remote, method: post, into: answer}\n"))
case("rs001", "bad", ["RS001"], screens="", queries=SORT_Q.format(ty="text", more="") + "", extra="",
     actions="""\
  - name: Sort
    anonymous: true
    parameters: [{name: o, type: text}]
    steps:
      - run: {action: corpusdep.SortPub, args: {order: params.o}}
""", dependencies="  - {module: corpusdep, actions: [SortPub]}\n")
case("rs001", "bad", ["RS001"], screens="""\
  - name: Sorted
    kind: list
    query: ByOrder
    anonymous: true
    parameters: [{name: sort, type: text}]
    widgets:
      - {kind: table, columns: [record.title]}
""", queries=SORT_Q.format(ty="text", more=""))
case("rs001", "good", [], queries=SORT_Q.format(ty="text", more=", choices: [title, title DESC]"))
case("rs001", "good", [], queries=SORT_Q.format(ty="integer", more=""))
case("rs001", "good", [], entities=HIDDEN, queries=LOG_Q, actions=log_action("encode_sql(params.s)"))
case("rs001", "good", [], entities=HIDDEN, queries=LOG_Q,
     actions=log_action('one_of(params.s, "line", "line DESC")'))
case("rs001", "good", [], entities=HIDDEN, queries=LOG_Q, actions=log_action('"line DESC"'))
case("rs001", "good", [], entities=HIDDEN, queries=LOG_Q,
     actions=log_action("params.n", params="[{name: n, type: integer}]"))
case("rs001", "good", [], screens="", actions="""\
  - name: Sort
    anonymous: true
    parameters: [{name: o, type: text}]
    steps:
      - run: {action: corpusdep.SafePub, args: {order: params.o}}
""", dependencies="  - {module: corpusdep, actions: [SafePub]}\n")
case("rs001", "good", [], queries="""\
  - name: ByTitle
    entity: Note
    parameters:
      - {name: t, type: text}
    sql: SELECT id, title FROM note WHERE title = :t
""")

# RS002 cross-site scripting.
DETAIL = """\
  - name: Show
    kind: detail
    entity: Note
    roles: [Rep]
    parameters: [{{name: x, type: text, required: false}}, {{name: n, type: integer, required: false}}]
    widgets:
      - {{kind: text, value: '{value}'{unescaped}}}
"""
for value in ["params.x", "record.body", '"<b>" + params.x + "</b>"', '"<p>" + record.title']:
    case("rs002", "bad", ["RS002"], screens=DETAIL.format(value=value, unescaped=", unescaped: true")
         + FORM)
case("rs002", "bad", ["RS002"], screens=DETAIL.format(value="record.body", unescaped=", unescaped: true"),
     actions="""\
  - name: Write
    roles: [Rep]
    parameters: [{name: body, type: text}]
    steps:
      - create: {entity: Note, values: {body: params.body}}
""")
for value in ["encode_html(params.x)", '"<b>Welcome</b>"', '"<b>" + params.n + "</b>"',
              '"<p>" + encode_html(record.body) + "</p>"', 'one_of(params.x, "<b>a</b>", "<i>b</i>")']:
    case("rs002", "good", [], screens=DETAIL.format(value=value, unescaped=", unescaped: true") + FORM)
case("rs002", "good", [], screens=DETAIL.format(value="record.body", unescaped="") + FORM)
case("rs002", "good", [], screens=DETAIL.format(value="record.body", unescaped=", unescaped: true"))

# RS003 unvalidated redirect.
LINK = """\
  - name: Go
    kind: list
    entity: Note
    roles: [Rep]
    parameters: [{{name: next, type: text, required: false}}, {{name: id, type: integer, required: false}}]
    widgets:
      - {{kind: link, label: Next, target: '{target}'}}
"""
DENIED = """\
  - name: Go
    kind: list
    entity: Note
    roles: [Rep]
    parameters: [{{name: back, type: text, required: false}}]
    on_denied: {{redirect: '{target}'}}
"""
REDIRECT = """\
  - name: Jump
    roles: [Rep]
    parameters: [{{name: next, type: text}}]
    steps:
{pre}      - redirect: {{target: '{target}'}}
"""
case("rs003", "bad", ["RS003"], screens=LINK.format(target="params.next"))
case("rs003", "bad", ["RS003"], screens=LINK.format(target='"/" + params.next'))
case("rs003", "bad", ["RS003"], screens=LINK.format(target='"https://" + params.next'))
case("rs003", "bad", ["RS003"], screens=DENIED.format(target="params.back"))
case("rs003", "bad", ["RS003"], actions=REDIRECT.format(target="params.next", pre=""))
case("rs003", "bad", ["RS003"], actions=REDIRECT.format(
    target="where", pre="      - assign: {where: params.next}\n"))
case("rs003", "bad", ["RS003"], screens="", actions="""\
  - name: Hop
    anonymous: true
    parameters: [{name: n, type: text}]
    steps:
      - run: {action: corpusdep.ShowPub, args: {next: params.n}}
""", dependencies="  - {module: corpusdep, actions: [ShowPub]}\n")
case("rs003", "good", [], screens=LINK.format(target="same_site(params.next)"))
case("rs003", "good", [], screens=LINK.format(target='"Notes?from=" + params.next'))
case("rs003", "good", [], screens=LINK.format(target='"https://docs.example.com/" + params.next'))
case("rs003", "good", [], screens=LINK.format(target='one_of(params.next, "Notes", "Go")'))
case("rs003", "good", [], screens=DENIED.format(target='"Notes"'))
case("rs003", "good", [], actions=REDIRECT.format(target='"Notes?id=" + params.next', pre=""))
case("rs003", "good", [], actions=REDIRECT.format(
    target="where", pre="      - assign: {where: 'same_site(params.next)'}\n"))
case("rs003", "good", [], screens=LINK.format(target='"Go?id=" + params.id'))

# RS004 data isolation (the dependency's model is given).
ISO_DEPS = "  - {module: corpusdep, entities: [Pub, Priv, Far]}\n"


def iso_query(sql, entity="Note"):
    return f"""\
  - name: Mixed
    entity: {entity}
    sql: {sql}
"""


case("rs004", "bad", ["RS004"], queries=iso_query("SELECT n.id FROM note n JOIN far f ON f.title = n.title"),
     dependencies=ISO_DEPS)
case("rs004", "bad", ["RS004"], queries=iso_query("SELECT id, title FROM priv"), dependencies=ISO_DEPS)
case("rs004", "bad", ["RS004"], queries=iso_query(
    "SELECT id FROM note WHERE title IN (SELECT title FROM priv)"), dependencies=ISO_DEPS)
case("rs004", "bad", ["RS004"], queries=iso_query("WITH t AS (SELECT title FROM far) SELECT id FROM note, t"),
     dependencies=ISO_DEPS)
case("rs004", "good", [], queries=iso_query("SELECT n.id FROM note n JOIN pub p ON p.title = n.title"),
     dependencies=ISO_DEPS)
case("rs004", "good", [], queries=iso_query("SELECT id, title FROM pub"), dependencies=ISO_DEPS)
case("rs004", "good", [], queries=iso_query("SELECT id, title FROM note"), dependencies=ISO_DEPS)
case("rs004", "good", [], queries=iso_query(
    "SELECT id FROM note WHERE title IN (SELECT title FROM pub)"), dependencies=ISO_DEPS)

# RS005 anonymous access to protected data, RS006 anonymous writes.
GUARDED = NOTE + """\
  - name: Secret
    attributes:
      - {name: title, type: text}
    acl: {grants: true}
  - name: Card
    attributes:
      - {name: number, type: text, sensitive: true}
    acl: {grants: true}
"""


def anon_screen(entity, kind="list", roles="anonymous: true", widgets="[{kind: table, columns: [record.id]}]"):
    return f"""\
  - name: Open
    kind: {kind}
    entity: {entity}
    {roles}
    widgets: {widgets}
"""


def anon_action(steps, returns="", roles="anonymous: true", expose=""):
    r = f"\n    returns: {returns}" if returns else ""
    return f"""\
  - name: Act
    {roles}{r}{expose}
    parameters: [{{name: id, type: integer, required: false}}]
    steps:
{steps}"""


case("rs005", "bad", ["RS005"], entities=GUARDED, screens=anon_screen("Secret"))
case("rs005", "bad", ["RS005"], entities=GUARDED, screens=anon_screen("Card", kind="detail"))
case("rs005", "bad", ["RS005"], entities=GUARDED, screens="",
     actions=anon_action("      - query: {query: AllSecrets, into: rows}\n"),
     queries="  - {name: AllSecrets, entity: Secret}\n")
case("rs005", "bad", ["RS005"], entities=GUARDED, screens="",
     actions=anon_action("      - query: {query: AllCards, into: rows}\n", returns="Card"),
     queries="  - {name: AllCards, entity: Card}\n")
case("rs005", "bad", ["RS005", "RS006"], entities=GUARDED, screens="",
     actions=anon_action("      - create: {entity: Secret, values: {title: '\"x\"'}}\n"))
case("rs005", "good", [], entities=GUARDED, screens=anon_screen("Note"))
case("rs005", "good", [], entities=GUARDED, screens=anon_screen("Secret", roles="roles: [Rep]"))
case("rs005", "good", [], entities=GUARDED, screens=anon_screen("Card", kind="detail", roles="roles: [Rep]"))
case("rs005", "good", [], entities=GUARDED, screens="",
     actions=anon_action("      - query: {query: AllNotes, into: rows}\n"),
     queries="  - {name: AllNotes, entity: Note}\n")
case("rs005", "good", [], entities=GUARDED, screens="",
     actions=anon_action("      - query: {query: AllCards, into: rows}\n", returns="Card", roles="roles: [Rep]"),
     queries="  - {name: AllCards, entity: Card}\n")

case("rs006", "bad", ["RS006"], screens=anon_screen("Note", kind="form", widgets="[{kind: field, value: title}]"))
case("rs006", "bad", ["RS006"], screens="",
     actions=anon_action("      - create: {entity: Note, values: {title: '\"hello\"'}}\n"))
case("rs006", "bad", ["RS006"], screens="",
     actions=anon_action("      - update: {entity: Note, id: params.id, values: {title: '\"x\"'}}\n"))
case("rs006", "bad", ["RS006"], screens="",
     actions=anon_action("      - delete: {entity: Note, id: params.id}\n"))
case("rs006", "good", [], screens=anon_screen("Note", kind="form", roles="roles: [Rep]",
                                              widgets="[{kind: field, value: title}]"))
case("rs006", "good", [], screens="",
     actions=anon_action("      - create: {entity: Note, values: {title: '\"hello\"'}}\n", roles="roles: [Rep]"))
case("rs006", "good", [], screens="",
     actions=anon_action("      - delete: {entity: Note, id: params.id}\n", roles="roles: [Rep]"))
case("rs006", "good", [], screens=anon_screen("Note", kind="detail"))

# RS007 sensitive attributes without an ACL.
for attrs, acl in [
    ("[{name: iban, type: text, sensitive: true}]", ""),
    ("[{name: name, type: text}, {name: ssn, type: text, sensitive: true, unique: true}]", ""),
    ("[{name: salary, type: decimal, sensitive: true}]", ""),
    ("[{name: mail, type: email, sensitive: true}, {name: born, type: date, sensitive: true}]", ""),
]:
    case("rs007", "bad", ["RS007"], entities=NOTE + f"  - name: Person\n    attributes: {attrs}\n{acl}")
for attrs, acl in [
    ("[{name: iban, type: text, sensitive: true}]", "    acl: {grants: true}\n"),
    ("[{name: name, type: text}, {name: ssn, type: text, sensitive: true}, {name: rep, type: reference, entity: User}]",
     "    acl: {owner: rep}\n"),
    ("[{name: salary, type: decimal}]", ""),
    ("[{name: mail, type: email, sensitive: true}, {name: rep, type: reference, entity: User}]",
     "    acl: {owner: rep, hierarchy: reports-to}\n"),
]:
    case("rs007", "good", [], entities=NOTE + f"  - name: Person\n    attributes: {attrs}\n{acl}")

# RS008 an owner taken from parameters.
OWNED = NOTE + """\
  - name: Deal
    attributes:
      - {name: title, type: text}
      - {name: rep, type: reference, entity: User}
      - {name: helper, type: reference, entity: User}
    acl: {owner: rep, hierarchy: reports-to}
"""


def deal_action(step):
    return f"""\
  - name: Save
    roles: [Rep]
    parameters: [{{name: rep, type: reference, entity: User}}, {{name: id, type: reference, entity: Deal}}]
    steps:
      - {step}
"""


case("rs008", "bad", ["RS008"], entities=OWNED, actions=deal_action(
    "create: {entity: Deal, values: {title: '\"x\"', rep: params.rep}}"))
case("rs008", "bad", ["RS008"], entities=OWNED, actions=deal_action(
    "update: {entity: Deal, id: params.id, values: {rep: params.rep}}"))
case("rs008", "bad", ["RS008"], entities=OWNED, actions=deal_action(
    "create: {entity: Deal, values: {rep: '\"\" + params.rep'}}"))
case("rs008", "bad", ["RS008"], entities=OWNED, actions=deal_action(
    "update: {entity: Deal, id: params.id, values: {title: '\"y\"', rep: params.rep, helper: user.id}}"))
case("rs008", "good", [], entities=OWNED, actions=deal_action(
    "create: {entity: Deal, values: {title: '\"x\"', rep: user.id}}"))
case("rs008", "good", [], entities=OWNED, actions=deal_action(
    "update: {entity: Deal, id: params.id, values: {helper: params.rep}}"))
case("rs008", "good", [], entities=OWNED, actions=deal_action(
    "create: {entity: Deal, values: {rep: user.id, helper: params.rep}}"))
case("rs008", "good", [], entities=OWNED, actions=deal_action(
    "update: {entity: Deal, id: params.id, values: {title: '\"y\"'}}"))

# RS009 a screen without HTTPS, RS010 an endpoint without HTTPS.
case("rs009", "bad", ["RS009"], screens=FORM.replace("roles: [Rep]", "roles: [Rep]\n    https: false"))
case("rs009", "bad", ["RS009"], screens=NOTES_SCREEN.replace("roles: [Rep]", "roles: [Rep]\n    https: false"))
case("rs009", "bad", ["RS009"], screens=anon_screen("Note", widgets="[{kind: button, action: Touch}]")
     .replace("anonymous: true", "anonymous: true\n    https: false"),
     actions="  - {name: Touch, roles: [Rep], steps: [{assign: {a: '1'}}]}\n")
case("rs009", "bad", ["RS009"], screens=anon_screen("Note", kind="detail", roles="roles: [Rep]")
     .replace("roles: [Rep]", "roles: [Rep]\n    https: false"))
case("rs009", "good", [], screens=anon_screen("Note").replace("anonymous: true", "anonymous: true\n    https: false"))
case("rs009", "good", [], screens=FORM)
case("rs009", "good", [], screens=NOTES_SCREEN.replace("roles: [Rep]", "roles: [Rep]\n    https: true"))
case("rs009", "good", [], screens=anon_screen("Note", kind="detail").replace("anonymous: true", "anonymous: true\n    https: false"))


def exposed(method, https="", steps="      - query: {query: AllNotes, into: rows}\n"):
    return f"""\
  - name: Api
    roles: [Rep]
    expose: {{method: {method}, path: /notes{https}}}
    steps:
{steps}"""


ALL_NOTES = "  - {name: AllNotes, entity: Note}\n"
CREATE_NOTE = "      - create: {entity: Note, values: {title: '\"x\"'}}\n"
case("rs010", "bad", ["RS010"], queries=ALL_NOTES, actions=exposed("GET", ", https: false"))
case("rs010", "bad", ["RS010"], queries=ALL_NOTES, actions=exposed("POST", ", https: false", CREATE_NOTE))
case("rs010", "bad", ["RS010"], queries=ALL_NOTES, actions=exposed("PUT", ", https: false", CREATE_NOTE))
case("rs010", "bad", ["RS010"], queries=ALL_NOTES, actions=exposed("DELETE", ", https: false",
                                                               "      - delete: {entity: Note, id: '1'}\n"))
case("rs010", "good", [], queries=ALL_NOTES, actions=exposed("GET"))
case("rs010", "good", [], queries=ALL_NOTES, actions=exposed("POST", "", CREATE_NOTE))
case("rs010", "good", [], queries=ALL_NOTES, actions=exposed("PUT", ", https: true", CREATE_NOTE))
case("rs010", "good", [], queries=ALL_NOTES, actions=exposed("DELETE", "", "      - delete: {entity: Note, id: '1'}\n"))

# RS011 an integration over plain HTTP.
def integration(url, creds=""):
    return f"""\
  - name: Svc
    base_url: {url}
    methods: [{{name: ping, method: GET, path: /ping}}]
{creds}"""


CREDS = "    credentials: {secret: svc-token, scheme: bearer}\n"
case("rs011", "bad", ["RS011"], integrations=integration("http://api.example.com"))
case("rs011", "bad", ["RS011"], integrations=integration("http://10.0.0.5:8080/v1", CREDS))
case("rs011", "bad", ["RS011"], integrations=integration("http://billing.internal.example/api"))
case("rs011", "bad", ["RS011"], integrations=integration("http://192.168.1.20", CREDS))
case("rs011", "good", [], integrations=integration("https://api.example.com"))
case("rs011", "good", [], integrations=integration("http://localhost:8080/v1", CREDS))
case("rs011", "good", [], integrations=integration("http://127.0.0.1:9000"))
case("rs011", "good", [], integrations=integration("https://10.0.0.5:8443/v1", CREDS))

# RS012 hard-coded secrets.
def described(text):
    return NOTE.replace("  - name: Note\n", f"  - name: Note\n    description: \"{text}\"\n")


case("rs012", "bad", ["RS012"], entities=described("Synced with key AKIAIOSFODNN7EXAMPLE nightly."))
case("rs012", "bad", ["RS012"], properties="""\
  - {name: Endpoint, type: text, default: "https://x.example/?k=ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"}
""")
case("rs012", "bad", ["RS012"], properties="  - {name: ApiToken, type: text, default: hunter2hunter2}\n")
case("rs012", "bad", ["RS012"], screens=DETAIL.format(value='"Pay with sk_live_4eC39HqLyjWDarjtT1zdp7dc"',
                                                      unescaped=""))
case("rs012", "bad", ["RS012"], queries="""\
  - name: Q
    entity: Note
    sql: "SELECT id FROM note WHERE title <> 'xoxb-123456789012-abcdefghijkl'"
""")
case("rs012", "bad", ["RS012"], integrations="""\
  - name: Svc
    base_url: https://api.example.com
    methods: [{name: ping, method: POST, path: /ping}]
    credentials: {secret: Xk9fQ2mZp7LwR4tYb8NcV3hJ6sD1gA5e, scheme: bearer}
""")
case("rs012", "good", [], entities=described("Synced with the ledger nightly."))
case("rs012", "good", [], properties="  - {name: Endpoint, type: text, default: \"https://x.example/api/v2\"}\n")
case("rs012", "good", [], properties="  - {name: ApiToken, type: text}\n")
case("rs012", "good", [], screens=DETAIL.format(value='"Pay by bank transfer"', unescaped=""))
case("rs012", "good", [], queries="""\
  - name: Q
    entity: Note
    sql: "SELECT id FROM note WHERE title <> 'draft-0190a000-0000-7000-8000-000000000001'"
""")
case("rs012", "good", [], integrations="""\
  - name: Svc
    base_url: https://api.example.com
    methods: [{name: ping, method: POST, path: /ping}]
    credentials: {secret: svc-api-token, scheme: bearer}
""")

# RS013 platform users' ids shown to visitors.
AUTHORED = NOTE + """\
  - name: Post
    attributes:
      - {name: title, type: text}
      - {name: author, type: reference, entity: User}
"""
case("rs013", "bad", ["RS013"], entities=AUTHORED,
     screens=anon_screen("Post", widgets="[{kind: table, columns: [record.title, record.author]}]"))
case("rs013", "bad", ["RS013"], entities=AUTHORED,
     screens=anon_screen("Post", kind="detail", widgets="[{kind: text, value: '\"by \" + record.author'}]"))
case("rs013", "bad", ["RS013"], entities=AUTHORED,
     screens=anon_screen("Post", kind="detail", widgets="[{kind: field, value: author}]"))
case("rs013", "bad", ["RS013"], entities=AUTHORED, screens="",
     actions=anon_action("      - query: {query: Posts, into: rows}\n", returns="Post"),
     queries="  - {name: Posts, entity: Post}\n")
case("rs013", "good", [], entities=AUTHORED,
     screens=anon_screen("Post", widgets="[{kind: table, columns: [record.title]}]"))
case("rs013", "good", [], entities=AUTHORED,
     screens=anon_screen("Post", roles="roles: [Rep]", widgets="[{kind: table, columns: [record.title, record.author]}]"))
case("rs013", "good", [], entities=AUTHORED, screens="",
     actions=anon_action("      - query: {query: Notes, into: rows}\n", returns="Note"),
     queries="  - {name: Notes, entity: Note}\n")
case("rs013", "good", [], entities=AUTHORED, screens="",
     actions=anon_action("      - query: {query: Posts, into: rows}\n", returns="Post", roles="roles: [Rep]"),
     queries="  - {name: Posts, entity: Post}\n")

# RS014 a GET endpoint that writes.
case("rs014", "bad", ["RS014"], queries=ALL_NOTES, actions=exposed("GET", "", CREATE_NOTE))
case("rs014", "bad", ["RS014"], queries=ALL_NOTES, actions=exposed(
    "GET", "", "      - update: {entity: Note, id: '1', values: {title: '\"x\"'}}\n"))
case("rs014", "bad", ["RS014"], queries=ALL_NOTES, actions=exposed(
    "GET", "", "      - delete: {entity: Note, id: '1'}\n"))
case("rs014", "bad", ["RS014"], queries=ALL_NOTES, integrations=INVOICING, actions=exposed(
    "GET", "", "      - call: {integration: Remote, method: post}\n"))
case("rs014", "good", [], queries=ALL_NOTES, actions=exposed("POST", "", CREATE_NOTE))
case("rs014", "good", [], queries=ALL_NOTES, actions=exposed("GET"))
case("rs014", "good", [], queries=ALL_NOTES, integrations=INVOICING, actions=exposed(
    "GET", "", "      - call: {integration: Remote, method: find}\n"))
case("rs014", "good", [], queries=ALL_NOTES, actions=exposed(
    "PATCH", "", "      - update: {entity: Note, id: '1', values: {title: '\"x\"'}}\n"))


def calling(method, args):
    return f"""\
  - name: Fetch
    roles: [Rep]
    steps:
      - call: {{integration: Remote, method: {method}, args: {args}}}
"""


case("rs015", "bad", ["RS015"], integrations=INVOICING, actions=calling("find", "{api_key: '\"k\"'}"))
case("rs015", "bad", ["RS015"], integrations=INVOICING, actions=calling("remove", "{token: '\"t\"'}"))
case("rs015", "bad", ["RS015"], integrations=INVOICING, actions=calling("byToken", "{token: '\"t\"'}"))
case("rs015", "bad", ["RS015"], integrations=INVOICING, actions=calling("find", "{q: '\"a\"', password: '\"p\"'}"))
case("rs015", "good", [], integrations=INVOICING, actions=calling("post", "{api_key: '\"k\"'}"))
case("rs015", "good", [], integrations=INVOICING, actions=calling("find", "{q: '\"a\"'}"))
case("rs015", "good", [], integrations=INVOICING, actions=calling("get", "{id: '\"7\"'}"))
case("rs015", "good", [], integrations=INVOICING, actions=calling("post", "{password: '\"p\"', q: '\"a\"'}"))


def remote(arg, params="[{name: x, type: text}, {name: r, type: reference, entity: Note}]", pre=""):
    return f"""\
  - name: Fetch
    roles: [Rep]
    parameters: {params}
    steps:
{pre}      - call: {{integration: Remote, method: get, args: {{id: '{arg}'}}}}
"""


case("rs016", "bad", ["RS016"], integrations=INVOICING, actions=remote("params.x"))
case("rs016", "bad", ["RS016"], integrations=INVOICING, actions=remote('"n-" + params.x'))
case("rs016", "bad", ["RS016"], integrations=INVOICING, actions=remote(
    "n.body", pre="      - query: {query: AllNotes, into: n}\n"), queries=ALL_NOTES,
     screens=NOTES_SCREEN + FORM)
case("rs016", "bad", ["RS016"], integrations=INVOICING, actions=remote(
    "encode_html(params.x)"))
case("rs016", "good", [], integrations=INVOICING, actions=remote("params.r"))
case("rs016", "good", [], integrations=INVOICING, actions=remote('one_of(params.x, "a", "b")'))
case("rs016", "good", [], integrations=INVOICING, actions=remote('"fixed"'))
case("rs016", "good", [], integrations=INVOICING, actions=remote(
    "n.id", pre="      - query: {query: AllNotes, into: n}\n"), queries=ALL_NOTES)


def main():
    for old in HERE.glob("rs*.yaml"):
        old.unlink()
    (HERE / "deps").mkdir(exist_ok=True)
    (HERE / "deps" / "corpusdep.yaml").write_text(DEP)
    for name, (expect, text) in CASES.items():
        head = "# expect: " + (" ".join(expect) if expect else "none") + "\n"
        (HERE / f"{name}.yaml").write_text(head + text)
    bad = sum(1 for n in CASES if "-bad-" in n)
    print(f"{len(CASES)} modules: {bad} vulnerable, {len(CASES) - bad} safe")


if __name__ == "__main__":
    main()
