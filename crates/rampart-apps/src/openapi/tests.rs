use super::*;

const SHOP: &str = r#"
module: crm
application: shop
roles: [{name: Rep}, {name: Manager}]
entities:
  - name: Sale
    description: A closed sale.
    attributes:
      - {name: amount, type: decimal, required: true}
      - {name: note, type: text, max_length: 200}
      - {name: iban, type: text, sensitive: true}
      - {name: rep, type: reference, entity: User, required: true}
    acl: {owner: rep}
  - name: Target
    attributes: [{name: goal, type: integer}]
queries:
  - name: Big
    entity: Sale
    parameters: [{name: over, type: decimal}]
    filter: [{attribute: amount, op: gt, parameter: over}]
screens:
  - {name: Sales, kind: list, entity: Sale, roles: [Rep, Manager], widgets: [{kind: table, columns: [record.amount]}]}
  - {name: NewSale, kind: form, entity: Sale, roles: [Rep], widgets: [{kind: field, value: amount}]}
  - {name: Targets, kind: list, entity: Target, roles: [Manager], widgets: [{kind: table, columns: [record.goal]}]}
actions:
  - name: RecordSale
    roles: [Rep]
    parameters: [{name: amount, type: decimal}, {name: note, type: text, required: false}]
    returns: Sale
    expose: {method: POST, path: /sales}
    steps:
      - create: {entity: Sale, values: {amount: params.amount, note: params.note, rep: user.id}, into: sale}
  - name: Forget
    roles: [Manager]
    parameters: [{name: sale, type: text}]
    expose: {method: DELETE, path: "/sales/{sale}"}
    steps: [{delete: {entity: Sale, id: params.sale}}]
  - name: Ping
    anonymous: true
    parameters: [{name: who, type: text, required: false}]
    expose: {method: GET, path: /ping}
    steps: [{assign: {x: '1'}}]
"#;

fn doc(roles: &[&str]) -> Json {
    let module = rampart_model::parse("crm.yaml", SHOP).unwrap();
    let held: BTreeSet<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    let holds = |needed: &BTreeSet<String>| !needed.is_disjoint(&held);
    document(
        &Running {
            environment: "development",
            application: "shop",
            deployment: 3,
            modules: vec![&module],
        },
        &holds,
    )
}

fn methods(doc: &Json, path: &str) -> Vec<String> {
    doc["paths"][path]
        .as_object()
        .map(|item| {
            item.keys()
                .filter(|k| *k != "parameters")
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn each_caller_sees_what_they_may_use_and_nothing_else() {
    let rep = doc(&["Rep"]);
    assert_eq!(rep["openapi"], "3.1.0");
    assert_eq!(rep["servers"][0]["url"], "/apps/development/shop/api");
    assert_eq!(rep["info"]["version"], "deployment 3");
    assert_eq!(methods(&rep, "/crm/Sale"), ["get", "post"]);
    assert_eq!(methods(&rep, "/crm/Sale/{id}"), ["get", "patch"]);
    assert_eq!(methods(&rep, "/crm/sales"), ["post"]);
    assert_eq!(methods(&rep, "/crm/queries/Big"), ["get"]);
    assert_eq!(methods(&rep, "/crm/ping"), ["get"]);
    // The manager's entity and endpoint are not described to a rep.
    assert!(rep["paths"].get("/crm/Target").is_none(), "{rep}");
    assert!(rep["paths"].get("/crm/sales/{sale}").is_none());
    assert!(rep["components"]["schemas"].get("crm.Target").is_none());

    let manager = doc(&["Manager"]);
    assert_eq!(methods(&manager, "/crm/Sale"), ["get"]);
    assert_eq!(methods(&manager, "/crm/Target"), ["get"]);
    assert_eq!(methods(&manager, "/crm/sales/{sale}"), ["delete"]);
    assert!(manager["paths"].get("/crm/sales").is_none());

    // Nobody with a role: only the anonymous endpoint.
    let nobody = doc(&[]);
    let paths: Vec<&String> = nobody["paths"].as_object().unwrap().keys().collect();
    assert_eq!(paths, ["/crm/ping"]);
    assert_eq!(nobody["paths"]["/crm/ping"]["get"]["security"], json!([{}]));
}

#[test]
fn records_parameters_and_bodies_have_the_model_s_types() {
    let rep = doc(&["Rep"]);
    let schemas = &rep["components"]["schemas"];
    let values = &schemas["crm.Sale"]["properties"]["values"]["properties"];
    assert_eq!(values["amount"]["type"], "string");
    assert!(values["amount"]["pattern"].is_string());
    assert_eq!(values["note"]["type"], json!(["string", "null"]));
    assert_eq!(values["note"]["maxLength"], 200);
    assert_eq!(values["rep"]["format"], "uuid");
    assert!(values["iban"]["description"]
        .as_str()
        .unwrap()
        .contains("Encrypted"));
    // The owner defaults to the caller: not required of a create.
    assert_eq!(schemas["crm.Sale.Values"]["required"], json!(["amount"]));
    assert_eq!(schemas["crm.Sale.Values"]["additionalProperties"], false);
    // The list's filters: every attribute but an encrypted one that is not unique.
    let list = &rep["paths"]["/crm/Sale"]["get"]["parameters"];
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["limit", "cursor", "sort", "amount", "note", "rep"]);
    let sort = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "sort")
        .unwrap();
    assert!(!sort["schema"]["enum"]
        .as_array()
        .unwrap()
        .contains(&json!("iban")));
    // An exposed POST takes its parameters as a JSON body; a DELETE's come from the path.
    let body =
        &rep["paths"]["/crm/sales"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["required"], json!(["amount"]));
    assert_eq!(
        rep["paths"]["/crm/sales"]["post"]["responses"]["200"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/crm.Sale.Returned"
    );
    let manager = doc(&["Manager"]);
    let forget = &manager["paths"]["/crm/sales/{sale}"]["delete"];
    assert_eq!(forget["parameters"][0]["in"], "path");
    assert!(forget.get("requestBody").is_none());
    // Every `$ref` names a schema the document has.
    for d in [&rep, &manager] {
        let text = d.to_string();
        for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = r.split('"').next().unwrap();
            assert!(
                d["components"]["schemas"].get(name).is_some(),
                "dangling $ref {name}"
            );
        }
    }
}
