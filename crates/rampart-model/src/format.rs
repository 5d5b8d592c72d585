//! The module format: what a module file says, as serde types.
//!
//! These types are an API boundary (the file format people write and the JSON Schema
//! `rampart model schema` prints), so they are serialisable by design and every field is
//! documented; the documentation becomes the schema's descriptions. Unknown fields are
//! refused everywhere, so a misspelt key is an error with a hint, never silently ignored.
//!
//! Names of elements (roles, entities, attributes, queries, screens, actions, integrations,
//! parameters) are identifiers: an ASCII letter, then letters, digits or `_`, at most 64.
//! An element of another module is named `module.Element` and must be listed under that
//! module in `dependencies`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The format version this crate reads and writes.
pub const FORMAT: &str = "rampart-module/1";

/// A module: a versioned model of entities, roles, screens, actions, queries, integrations
/// and the public elements of other modules it uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Module {
    /// The format version: `rampart-module/1` (the default).
    #[serde(default = "format_default")]
    #[schema(default = "rampart-module/1")]
    pub format: String,
    /// The module's name: 1 to 100 ASCII letters, digits, `-` and `_`, unique on the platform.
    pub module: String,
    /// The application the module belongs to (its team owns the module).
    pub application: String,
    /// What the module is for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `application` (screens end users open) or `library` (logic and data other modules use).
    #[serde(default)]
    pub kind: ModuleKind,
    /// End-user roles the module declares; assigned to users at run time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    /// Entities: records with typed attributes, stored in a named database.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<Entity>,
    /// Queries over entities: structured filters, or advanced SQL with named parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<Query>,
    /// Screens end users open.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub screens: Vec<Screen>,
    /// Server logic as declarative steps, optionally exposed as REST endpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    /// Outbound REST services the module calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<Integration>,
    /// Site properties: settings the module reads at run time, given per environment by
    /// the deployment plan (or taking their default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
    /// Public elements of other modules this module uses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
}

fn format_default() -> String {
    FORMAT.to_owned()
}

/// What a module is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModuleKind {
    /// Has screens end users open.
    #[default]
    Application,
    /// Logic and data for other modules; no screens of its own are required.
    Library,
}

/// An end-user role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// The role's name.
    pub name: String,
    /// What holding the role allows.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Other modules may require this role on their own screens and actions.
    #[serde(default, skip_serializing_if = "is_false")]
    pub public: bool,
}

/// An entity: a kind of record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    /// The entity's name.
    pub name: String,
    /// What a record is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The database (data source) holding the records; `main` by default.
    #[serde(default = "database_default")]
    #[schema(default = "main")]
    pub database: String,
    /// Other modules may read and reference the entity.
    #[serde(default, skip_serializing_if = "is_false")]
    pub public: bool,
    /// The attributes, in order.
    pub attributes: Vec<Attribute>,
    /// Who may see and change each record. Absent means `none`: every user allowed onto a
    /// screen or action that uses the entity sees every record.
    #[serde(default, skip_serializing_if = "Acl::is_none")]
    pub acl: Acl,
}

fn database_default() -> String {
    "main".to_owned()
}

/// An attribute of an entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    /// The attribute's name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: AttributeType,
    /// For `reference`: the entity referred to (`Entity`, `module.Entity`, or `User` for a
    /// platform user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// A record must have a value.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// No two records share a value.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    /// Encrypted at rest, never written to logs or audit entries.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sensitive: bool,
    /// For `text`: the longest value accepted, in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// What the attribute holds.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// Attribute and parameter types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttributeType {
    /// Unicode text.
    Text,
    /// A 64-bit signed integer.
    Integer,
    /// An exact decimal number.
    Decimal,
    /// `true` or `false`.
    Boolean,
    /// A calendar date.
    Date,
    /// A point in time (UTC).
    Datetime,
    /// An e-mail address.
    Email,
    /// A reference to a record of another entity (see `entity`).
    Reference,
}

impl AttributeType {
    /// The type's name in the format.
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeType::Text => "text",
            AttributeType::Integer => "integer",
            AttributeType::Decimal => "decimal",
            AttributeType::Boolean => "boolean",
            AttributeType::Date => "date",
            AttributeType::Datetime => "datetime",
            AttributeType::Email => "email",
            AttributeType::Reference => "reference",
        }
    }
}

impl fmt::Display for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Row-level access: `none`, or a rule of an owner (with their managers up a hierarchy)
/// and explicit per-record grants.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acl {
    /// The `reference` attribute (to `User`) naming each record's owner, who may read and
    /// change it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The reports-to hierarchy along which the owner's managers inherit access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hierarchy: Option<String>,
    /// Records may also be granted to users, groups or hierarchy units one by one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub grants: bool,
}

impl Acl {
    /// No row-level rule.
    pub fn is_none(&self) -> bool {
        self.owner.is_none() && self.hierarchy.is_none() && !self.grants
    }
}

/// A typed parameter of a query, screen or action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    /// The parameter's name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: AttributeType,
    /// For `reference`: the entity referred to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// Callers must pass a value (the default); `false` makes it optional.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    #[schema(default = true)]
    pub required: bool,
    /// Advanced SQL only: the value is written into the statement's text instead of being
    /// bound ("expand inline"). Dangerous with anything a user typed; the security checks
    /// flag it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub inline: bool,
    /// Queries' `text` parameters only: the values accepted, an allow-list (any other is
    /// refused before the query runs). The security checks read a parameter with choices
    /// as a constant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// What the parameter means.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// A query over an entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// The query's name.
    pub name: String,
    /// What it finds.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Other modules may run it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub public: bool,
    /// The entity whose records it returns.
    pub entity: String,
    /// Its parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    /// A structured filter: every condition must hold. Mutually exclusive with `sql`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter: Vec<Condition>,
    /// Advanced SQL, with parameters written `:name`. Mutually exclusive with `filter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// Sort order: attribute names, each optionally followed by ` desc`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_by: Vec<String>,
    /// The most records returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One condition of a structured filter: `attribute op (parameter | value)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The attribute compared.
    pub attribute: String,
    /// The comparison.
    pub op: Operator,
    /// The query parameter compared with (exclusive with `value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// A literal compared with (exclusive with `parameter`; absent for `is_null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

/// Comparison operators of structured filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Text contains (literally, no wildcards).
    Contains,
    /// Text starts with.
    StartsWith,
    /// Has no value.
    IsNull,
}

/// A screen end users open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Screen {
    /// The screen's name.
    pub name: String,
    /// What it shows.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `list`, `detail` or `form`.
    pub kind: ScreenKind,
    /// Other modules may link to it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub public: bool,
    /// The entity shown or edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// For `list`: the query listing the records (all records the user may see otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Its parameters (from the URL).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    /// Roles allowed to open the screen (any one suffices). Required unless `anonymous`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Anyone may open the screen without logging in. Exclusive with `roles`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub anonymous: bool,
    /// Served over HTTPS only (the default); `false` is flagged by the security checks.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    #[schema(default = true)]
    pub https: bool,
    /// What a user who may not open the screen gets instead of the default refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_denied: Option<OnDenied>,
    /// What the screen shows, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub widgets: Vec<Widget>,
}

/// Screen kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScreenKind {
    /// Many records.
    List,
    /// One record.
    Detail,
    /// A form creating or changing one record.
    Form,
}

/// The answer to a user refused a screen: a message, or a redirect (exactly one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OnDenied {
    /// The message shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// An expression giving where to send the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
}

/// One element of a screen.
///
/// Values and targets are expressions: `record.attribute`, `params.name`, `user.name`,
/// `"literal text"`, joined with `+`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Widget {
    /// `text`, `field`, `link`, `button` or `table`.
    pub kind: WidgetKind,
    /// For `text` and `table` columns: the expression shown. For `field`: the attribute edited or
    /// shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Shown beside or on the widget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// For `link`: an expression giving where it leads (a screen name, `module.Screen`, or a
    /// URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// For `button`: the action it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// For `table`: the columns, each an expression over `record`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Write the value as HTML instead of escaping it (escaped by default). The security
    /// checks flag it when the value can hold what a user typed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unescaped: bool,
}

/// Widget kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WidgetKind {
    /// A value, as text.
    Text,
    /// An attribute of the record, shown or edited.
    Field,
    /// A link.
    Link,
    /// A button running an action.
    Button,
    /// A table of the listed records.
    Table,
}

/// Server logic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// The action's name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Other modules may run it (the "exposed" actions of the module).
    #[serde(default, skip_serializing_if = "is_false")]
    pub public: bool,
    /// Roles allowed to run it (any one suffices). Required unless `anonymous`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Anyone may run it without logging in. Exclusive with `roles`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub anonymous: bool,
    /// Its parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    /// What it returns: the entity of the record it returns, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returns: Option<String>,
    /// Served as a REST endpoint too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose: Option<Expose>,
    /// The steps, run in order in one transaction.
    pub steps: Vec<Step>,
}

/// A REST endpoint serving an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Expose {
    /// The HTTP method.
    pub method: HttpMethod,
    /// The path under the application's API root, starting with `/`.
    pub path: String,
    /// Served over HTTPS only (the default).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    #[schema(default = true)]
    pub https: bool,
}

/// HTTP methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

/// One step of an action. Values are expressions over `params`, `user` and the variables
/// earlier steps set with `into`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Run a query.
    Query(QueryStep),
    /// Create a record.
    Create(WriteStep),
    /// Change a record.
    Update(WriteStep),
    /// Delete a record.
    Delete(DeleteStep),
    /// Call a method of an integration.
    Call(CallStep),
    /// Run an action of this module or of a dependency (`module.Action`).
    Run(RunStep),
    /// Send the user elsewhere.
    Redirect(RedirectStep),
    /// Set variables: name to expression.
    Assign(BTreeMap<String, String>),
}

/// Runs a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryStep {
    /// The query (`Query` or `module.Query`).
    pub query: String,
    /// Parameter name to expression.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    /// The variable receiving the records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into: Option<String>,
}

/// Creates or changes a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteStep {
    /// The entity.
    pub entity: String,
    /// For `update`: an expression giving the record's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Attribute name to expression.
    pub values: BTreeMap<String, String>,
    /// The variable receiving the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into: Option<String>,
}

/// Deletes a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteStep {
    /// The entity.
    pub entity: String,
    /// An expression giving the record's id.
    pub id: String,
}

/// Calls an integration's method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallStep {
    /// The integration.
    pub integration: String,
    /// The method's name.
    pub method: String,
    /// Argument name to expression.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    /// The variable receiving the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into: Option<String>,
}

/// Runs another action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunStep {
    /// The action (`Action` or `module.Action`).
    pub action: String,
    /// Parameter name to expression.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    /// The variable receiving what it returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into: Option<String>,
}

/// Sends the user elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedirectStep {
    /// An expression giving where: a screen name, `module.Screen`, or a URL.
    pub target: String,
}

/// An outbound REST service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    /// The integration's name.
    pub name: String,
    /// What the service is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The base URL; each environment's deployment settings may replace it.
    pub base_url: String,
    /// The methods called.
    pub methods: Vec<IntegrationMethod>,
    /// How to authenticate: by reference to a secret held by the platform, never the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
}

/// One method of an integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationMethod {
    /// The method's name.
    pub name: String,
    /// The HTTP method.
    pub method: HttpMethod,
    /// The path below the base URL, starting with `/`; `{name}` is replaced by an argument.
    pub path: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// Credentials by reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The name of the secret (set per environment by administrators).
    pub secret: String,
    /// How the secret is sent.
    #[serde(default)]
    pub scheme: CredentialScheme,
    /// For `header`: the header's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

/// How a secret is sent to an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CredentialScheme {
    /// `Authorization: Bearer <secret>`.
    #[default]
    Bearer,
    /// `Authorization: Basic <secret>` (the secret holds `user:password`).
    Basic,
    /// A header of the integration's choosing (see `header`).
    Header,
}

/// A site property: a named, typed setting whose value each environment's deployment plan
/// gives. Not for secrets: those are integration credentials, held by the platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Property {
    /// The property's name.
    pub name: String,
    /// `text`, `integer`, `decimal` or `boolean`.
    #[serde(rename = "type")]
    pub ty: PropertyType,
    /// The value when a plan gives none; without one, every plan must give it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// What it controls.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// The type of a site property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PropertyType {
    /// Any text.
    Text,
    /// A whole number.
    Integer,
    /// A number.
    Decimal,
    /// `true` or `false`.
    Boolean,
}

impl PropertyType {
    /// Whether `value` is of this type.
    pub fn admits(self, value: &serde_json::Value) -> bool {
        match self {
            PropertyType::Text => value.is_string(),
            PropertyType::Integer => value.is_i64() || value.is_u64(),
            PropertyType::Decimal => value.is_number(),
            PropertyType::Boolean => value.is_boolean(),
        }
    }

    /// The type's name, as written in a module.
    pub fn as_str(self) -> &'static str {
        match self {
            PropertyType::Text => "text",
            PropertyType::Integer => "integer",
            PropertyType::Decimal => "decimal",
            PropertyType::Boolean => "boolean",
        }
    }
}

/// The public elements of another module this module uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    /// The other module.
    pub module: String,
    /// Its public roles used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Its public entities used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<String>,
    /// Its public queries used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<String>,
    /// Its public screens used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub screens: Vec<String>,
    /// Its public actions used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_true(b: &bool) -> bool {
    *b
}

fn yes() -> bool {
    true
}
