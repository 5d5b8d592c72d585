//! The User and Group schemas (RFC 7643 §4.1, §4.2) and the enterprise User extension
//! (§4.3) as data, the validation of a client's resource against them, and the `/Schemas`
//! documents drawn from the same table.
//!
//! Validation answers the canonical form: attribute names in the schema's spelling, readOnly
//! attributes (`id`, `meta`, `groups`) dropped (a client may send them back; §3.5.1 says
//! they are ignored), and every value of the type its attribute declares. An extension's
//! attributes live in an object under the extension's URN, as RFC 7643 §3.3 writes them;
//! one written at the top level with its URN before its name
//! (`urn:…:enterprise:2.0:User:department`) is moved there. An unknown attribute or a value
//! of the wrong type is `invalidValue`; a body that is not an object or does not name the
//! resource's schema is `invalidSyntax`.

use serde_json::{json, Map, Value};

use crate::path::AttrPath;
use crate::ScimError;

/// The core User schema's URN.
pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema's URN.
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension's URN (RFC 7643 §4.3).
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// An attribute's type (§2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// A string.
    String,
    /// `true` or `false`.
    Boolean,
    /// An RFC 3339 date-time, as a string.
    DateTime,
    /// A URI, as a string.
    Reference,
    /// An object of sub-attributes.
    Complex,
}

/// Whether and when a client may write an attribute (§2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// The service provider sets it.
    ReadOnly,
    /// Anyone may change it.
    ReadWrite,
    /// Set once, never changed.
    Immutable,
}

/// One attribute of a schema.
#[derive(Debug)]
pub struct Attr {
    /// Its name, as the schema spells it.
    pub name: &'static str,
    /// Its type.
    pub ty: Type,
    /// Whether it holds a list.
    pub multi: bool,
    /// Whether a resource must have it.
    pub required: bool,
    /// Whether string comparisons respect case.
    pub case_exact: bool,
    /// Who may write it.
    pub mutability: Mutability,
    /// `server` when the service provider keeps it unique, else `none`.
    pub unique: bool,
    /// The sub-attributes of a complex attribute.
    pub sub: &'static [Attr],
    /// What a reference may point to (`external`, `uri`, or resource types).
    pub reference_types: &'static [&'static str],
    /// What it is for.
    pub description: &'static str,
}

const fn a(name: &'static str, ty: Type, description: &'static str) -> Attr {
    Attr {
        name,
        ty,
        multi: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        unique: false,
        sub: &[],
        reference_types: &["external"],
        description,
    }
}

const fn multi(name: &'static str, sub: &'static [Attr], description: &'static str) -> Attr {
    Attr {
        multi: true,
        sub,
        ..a(name, Type::Complex, description)
    }
}

const S: Type = Type::String;

/// The sub-attributes most multi-valued attributes share (§2.4).
const PLURAL: &[Attr] = &[
    a("value", S, "The value."),
    a("display", S, "A human-readable name."),
    a("type", S, "A label such as work or home."),
    a(
        "primary",
        Type::Boolean,
        "Whether this is the primary value.",
    ),
];

const NAME: &[Attr] = &[
    a("formatted", S, "The full name, formatted for display."),
    a("familyName", S, "The family name."),
    a("givenName", S, "The given name."),
    a("middleName", S, "The middle name."),
    a("honorificPrefix", S, "The honorific prefix."),
    a("honorificSuffix", S, "The honorific suffix."),
];

const ADDRESS: &[Attr] = &[
    a("formatted", S, "The full address."),
    a("streetAddress", S, "The street address."),
    a("locality", S, "The city or locality."),
    a("region", S, "The state or region."),
    a("postalCode", S, "The postal code."),
    a("country", S, "The country."),
    a("type", S, "A label such as work or home."),
    a(
        "primary",
        Type::Boolean,
        "Whether this is the primary address.",
    ),
];

const GROUP_REF: &[Attr] = &[
    Attr {
        mutability: Mutability::ReadOnly,
        ..a("value", S, "The group's id.")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        reference_types: &["Group"],
        ..a("$ref", Type::Reference, "The group's URI.")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..a("display", S, "The group's name.")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..a("type", S, "direct")
    },
];

const MEMBER: &[Attr] = &[
    Attr {
        mutability: Mutability::Immutable,
        case_exact: true,
        ..a("value", S, "The member's id.")
    },
    Attr {
        mutability: Mutability::Immutable,
        reference_types: &["User"],
        ..a("$ref", Type::Reference, "The member's URI.")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..a(
            "display",
            S,
            "The member's username, set by the service provider.",
        )
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..a("type", S, "User: groups hold users only.")
    },
];

const ID: Attr = Attr {
    case_exact: true,
    mutability: Mutability::ReadOnly,
    unique: true,
    ..a(
        "id",
        S,
        "The service provider's identifier of the resource.",
    )
};
const EXTERNAL_ID: Attr = Attr {
    case_exact: true,
    ..a(
        "externalId",
        S,
        "The provisioning client's identifier of the resource.",
    )
};
const META: Attr = Attr {
    mutability: Mutability::ReadOnly,
    sub: &[
        a("resourceType", S, "User or Group."),
        a("created", Type::DateTime, "When it was created."),
        a("lastModified", Type::DateTime, "When it last changed."),
        Attr {
            reference_types: &["uri"],
            ..a("location", Type::Reference, "Its URI.")
        },
        Attr {
            case_exact: true,
            ..a("version", S, "Its version, the ETag.")
        },
    ],
    ..a("meta", Type::Complex, "Resource metadata.")
};

const USER_ATTRS: &[Attr] = &[
    ID,
    EXTERNAL_ID,
    META,
    Attr {
        required: true,
        unique: true,
        ..a("userName", S, "The unique name the user signs in with.")
    },
    Attr {
        sub: NAME,
        ..a("name", Type::Complex, "The components of the user's name.")
    },
    a("displayName", S, "The name shown for the user."),
    a("nickName", S, "A casual name."),
    a("profileUrl", Type::Reference, "The user's online profile."),
    a("title", S, "The user's title."),
    a(
        "userType",
        S,
        "The user's relationship to the organisation.",
    ),
    a("preferredLanguage", S, "The preferred language."),
    a("locale", S, "The default location."),
    a("timezone", S, "The time zone, in the IANA format."),
    a("active", Type::Boolean, "Whether the user may sign in."),
    multi("emails", PLURAL, "E-mail addresses."),
    multi("phoneNumbers", PLURAL, "Phone numbers."),
    multi("ims", PLURAL, "Instant messaging addresses."),
    multi("photos", PLURAL, "URLs of photos."),
    multi("addresses", ADDRESS, "Physical addresses."),
    Attr {
        mutability: Mutability::ReadOnly,
        ..multi("groups", GROUP_REF, "The groups the user belongs to.")
    },
    multi("entitlements", PLURAL, "Entitlements."),
    multi("roles", PLURAL, "Roles."),
];

const GROUP_ATTRS: &[Attr] = &[
    ID,
    EXTERNAL_ID,
    META,
    Attr {
        required: true,
        unique: true,
        ..a(
            "displayName",
            S,
            "The group's name, which role mappings match.",
        )
    },
    multi("members", MEMBER, "The users in the group."),
];

const MANAGER: &[Attr] = &[
    a(
        "value",
        S,
        "The id of the user's manager, a user of the same provider.",
    ),
    Attr {
        reference_types: &["User"],
        ..a("$ref", Type::Reference, "The manager's URI.")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..a(
            "displayName",
            S,
            "The manager's display name, set by the service provider.",
        )
    },
];

const ENTERPRISE_ATTRS: &[Attr] = &[
    a(
        "employeeNumber",
        S,
        "The number the organisation knows the user by.",
    ),
    a("costCenter", S, "The user's cost center."),
    a("organization", S, "The user's organisation."),
    a("division", S, "The user's division."),
    a("department", S, "The user's department."),
    Attr {
        sub: MANAGER,
        ..a("manager", Type::Complex, "The user's manager.")
    },
];

/// A schema extension (RFC 7643 §3.3): attributes a resource keeps in an object under the
/// extension's URN.
#[derive(Debug)]
pub struct Extension {
    /// The extension's URN.
    pub urn: &'static str,
    /// Its name.
    pub name: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// Its attributes.
    pub attrs: &'static [Attr],
}

/// The enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE: Extension = Extension {
    urn: ENTERPRISE_URN,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attrs: ENTERPRISE_ATTRS,
};

impl Extension {
    /// The `/Schemas` document of this extension (RFC 7643 §7).
    pub fn document(&self, base: &str) -> Value {
        schema_document(self.urn, self.name, self.description, self.attrs, base)
    }
}

/// Where an attribute lives in a resource: at its top level (the core schema) or in an
/// extension's object.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// The resource type's own schema.
    Core(Schema),
    /// An extension of it.
    Extension(&'static Extension),
}

impl Scope {
    /// The attributes of this scope.
    pub fn attrs(self) -> &'static [Attr] {
        match self {
            Scope::Core(s) => s.attrs(),
            Scope::Extension(e) => e.attrs,
        }
    }

    /// The attribute called `name` (ignoring case).
    pub fn attr(self, name: &str) -> Option<&'static Attr> {
        find(self.attrs(), name)
    }

    /// The member of a resource holding this scope's attributes: `None` for the top level,
    /// the extension's URN otherwise.
    pub fn key(self) -> Option<&'static str> {
        match self {
            Scope::Core(_) => None,
            Scope::Extension(e) => Some(e.urn),
        }
    }

    /// The object holding this scope's attributes in `resource`.
    pub fn node(self, resource: &Value) -> Option<&Value> {
        match self.key() {
            None => Some(resource),
            Some(urn) => crate::filter::get_ci(resource, urn),
        }
    }

    /// Whether string comparisons on `attr` (or its `sub`) respect case. An unknown
    /// attribute compares ignoring case; a complex one compared as a whole compares its
    /// `value`.
    pub fn case_exact(self, attr: &str, sub: Option<&str>) -> bool {
        let Some(top) = self.attr(attr) else {
            return false;
        };
        let at = match sub {
            None => top,
            Some(s) => match find(top.sub, s) {
                Some(at) => at,
                None => return false,
            },
        };
        if at.ty == Type::Complex {
            return find(at.sub, "value").is_some_and(|v| v.case_exact);
        }
        at.case_exact
    }
}

/// A resource type's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// `urn:ietf:params:scim:schemas:core:2.0:User`.
    User,
    /// `urn:ietf:params:scim:schemas:core:2.0:Group`.
    Group,
}

impl Schema {
    /// Both resource types, users first.
    pub const ALL: [Schema; 2] = [Schema::User, Schema::Group];

    /// The schema's URN.
    pub fn urn(self) -> &'static str {
        match self {
            Schema::User => USER_URN,
            Schema::Group => GROUP_URN,
        }
    }

    /// The endpoint its resources live under (`Users`, `Groups`).
    pub fn endpoint(self) -> &'static str {
        match self {
            Schema::User => "Users",
            Schema::Group => "Groups",
        }
    }

    /// The resource type an endpoint name serves.
    pub fn of_endpoint(name: &str) -> Option<Schema> {
        Schema::ALL.into_iter().find(|s| s.endpoint() == name)
    }

    /// The resource type's name.
    pub fn name(self) -> &'static str {
        match self {
            Schema::User => "User",
            Schema::Group => "Group",
        }
    }

    /// Its attributes.
    pub fn attrs(self) -> &'static [Attr] {
        match self {
            Schema::User => USER_ATTRS,
            Schema::Group => GROUP_ATTRS,
        }
    }

    /// The attribute called `name` (ignoring case).
    pub fn attr(self, name: &str) -> Option<&'static Attr> {
        find(self.attrs(), name)
    }

    /// The extensions a resource of this type may carry.
    pub fn extensions(self) -> &'static [Extension] {
        match self {
            Schema::User => std::slice::from_ref(&ENTERPRISE),
            Schema::Group => &[],
        }
    }

    /// The extension whose URN is `urn` (ignoring case).
    pub fn extension(self, urn: &str) -> Option<&'static Extension> {
        self.extensions()
            .iter()
            .find(|e| e.urn.eq_ignore_ascii_case(urn))
    }

    /// Where the attribute a path names lives: no URN or the schema's own is the top level,
    /// an extension's URN its object; another URN is no attribute of this resource type.
    pub fn scope(self, path: &AttrPath) -> Option<Scope> {
        match path.urn.as_deref() {
            None => Some(Scope::Core(self)),
            Some(u) if u.eq_ignore_ascii_case(self.urn()) => Some(Scope::Core(self)),
            Some(u) => self.extension(u).map(Scope::Extension),
        }
    }

    /// Whether string comparisons on a top-level attribute respect case.
    pub fn case_exact(self, attr: &str, sub: Option<&str>) -> bool {
        Scope::Core(self).case_exact(attr, sub)
    }

    /// The `/Schemas` document of this schema (RFC 7643 §7).
    pub fn document(self, base: &str) -> Value {
        schema_document(
            self.urn(),
            self.name(),
            &format!("{} accounts", self.name()),
            self.attrs(),
            base,
        )
    }
}

fn schema_document(urn: &str, name: &str, description: &str, attrs: &[Attr], base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": urn,
        "name": name,
        "description": description,
        "attributes": attrs.iter().map(attr_document).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base}/Schemas/{urn}"),
        },
    })
}

/// The attribute called `name` among `attrs`, ignoring case.
pub fn find(attrs: &'static [Attr], name: &str) -> Option<&'static Attr> {
    attrs.iter().find(|x| x.name.eq_ignore_ascii_case(name))
}

fn attr_document(at: &Attr) -> Value {
    let ty = match at.ty {
        Type::String => "string",
        Type::Boolean => "boolean",
        Type::DateTime => "dateTime",
        Type::Reference => "reference",
        Type::Complex => "complex",
    };
    let mutability = match at.mutability {
        Mutability::ReadOnly => "readOnly",
        Mutability::ReadWrite => "readWrite",
        Mutability::Immutable => "immutable",
    };
    let mut doc = json!({
        "name": at.name,
        "type": ty,
        "multiValued": at.multi,
        "description": at.description,
        "required": at.required,
        "caseExact": at.case_exact,
        "mutability": mutability,
        "returned": if at.name == "id" { "always" } else { "default" },
        "uniqueness": if at.unique { "server" } else { "none" },
    });
    if let Some(obj) = doc.as_object_mut() {
        if at.ty == Type::Complex {
            obj.insert(
                "subAttributes".into(),
                at.sub.iter().map(attr_document).collect(),
            );
        }
        if at.ty == Type::Reference {
            obj.insert("referenceTypes".into(), json!(at.reference_types));
        }
    }
    doc
}

/// Checks a resource a client sent (POST, PUT, or the result of a PATCH) and answers its
/// canonical form: known attributes only, in the schema's spelling, of the declared types,
/// readOnly ones left out, nulls and empty lists dropped (they mean "no value", §3.5.1), an
/// extension's attributes in one object under its URN.
pub fn validate(schema: Schema, body: &Value) -> Result<Map<String, Value>, ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::syntax("the resource must be a JSON object"));
    };
    let named = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .map(|(_, v)| v);
    let names = |s: &Value| {
        s.as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case(schema.urn()))
    };
    match named {
        Some(Value::Array(list)) if list.iter().any(names) => {
            let known =
                |s: &Value| names(s) || s.as_str().and_then(|u| schema.extension(u)).is_some();
            if let Some(other) = list.iter().find(|s| !known(s)) {
                return Err(ScimError::value(format!(
                    "schemas names {other}, which this service provider does not support"
                )));
            }
        }
        _ => {
            return Err(ScimError::syntax(format!(
                "schemas must be a list naming {}",
                schema.urn()
            )))
        }
    }
    let mut out = Map::new();
    let mut extended: Vec<(&'static Extension, Map<String, Value>)> = Vec::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = schema.extension(key) {
            // `"urn:…:enterprise:2.0:User": {"department": …}`.
            let members = match value {
                Value::Null => continue,
                Value::Object(m) => m,
                _ => {
                    return Err(ScimError::value(format!(
                        "{key} must be an object of the extension's attributes"
                    )))
                }
            };
            for (name, v) in members {
                let at = find(ext.attrs, name).ok_or_else(|| unknown_in(ext, name))?;
                put_checked(&mut extended, ext, at, v)?;
            }
            continue;
        }
        let path = AttrPath::parse(key);
        match path.as_ref().and_then(|p| schema.scope(p).map(|s| (p, s))) {
            Some((p, Scope::Core(_))) if p.sub.is_none() => {
                let at = schema.attr(&p.attr).ok_or_else(|| unknown(schema, key))?;
                if at.mutability == Mutability::ReadOnly {
                    continue;
                }
                if let Some(v) = check_value(at, value, at.name)? {
                    out.insert(at.name.to_owned(), v);
                }
            }
            // `"urn:…:enterprise:2.0:User:department": …` at the top level.
            Some((p, Scope::Extension(ext))) if p.sub.is_none() => {
                let at = find(ext.attrs, &p.attr).ok_or_else(|| unknown_in(ext, &p.attr))?;
                put_checked(&mut extended, ext, at, value)?;
            }
            // `"urn:…:User": {"name": …}`: the core schema's attributes under its URN.
            _ if key.eq_ignore_ascii_case(schema.urn()) => {
                return Err(ScimError::value(format!(
                    "{key} is not an extension of this resource; write its attributes at the \
                     top level"
                )))
            }
            _ => return Err(unknown(schema, key)),
        }
    }
    for (ext, members) in extended {
        if !members.is_empty() {
            out.insert(ext.urn.to_owned(), Value::Object(members));
        }
    }
    for at in schema.attrs() {
        if at.required && !out.contains_key(at.name) {
            return Err(ScimError::value(format!("{} is required", at.name)));
        }
    }
    Ok(out)
}

/// Checks one extension attribute's value into the extension's object.
fn put_checked(
    extended: &mut Vec<(&'static Extension, Map<String, Value>)>,
    ext: &'static Extension,
    at: &'static Attr,
    value: &Value,
) -> Result<(), ScimError> {
    if at.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    let shown = format!("{}:{}", ext.urn, at.name);
    let Some(mut v) = check_value(at, value, &shown)? else {
        return Ok(());
    };
    // The service provider's sub-attributes (`manager.displayName`) are its to say.
    if let Value::Object(m) = &mut v {
        m.retain(|k, _| find(at.sub, k).is_none_or(|s| s.mutability != Mutability::ReadOnly));
        if m.is_empty() {
            return Ok(());
        }
    }
    let i = match extended.iter().position(|(e, _)| std::ptr::eq(*e, ext)) {
        Some(i) => i,
        None => {
            extended.push((ext, Map::new()));
            extended.len() - 1
        }
    };
    extended[i].1.insert(at.name.to_owned(), v);
    Ok(())
}

fn unknown_in(ext: &Extension, name: &str) -> ScimError {
    ScimError::value(format!("{name} is not an attribute of {}", ext.urn))
}

fn unknown(schema: Schema, key: &str) -> ScimError {
    ScimError::value(format!(
        "{key} is not an attribute of {} ({})",
        schema.name(),
        schema.urn()
    ))
}

/// Checks one attribute's value; `None` when it means "no value".
pub fn check_value(at: &Attr, value: &Value, shown: &str) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if at.multi {
        let Value::Array(items) = value else {
            return Err(ScimError::value(format!("{shown} must be a list")));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = check_single(at, item, shown)? {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
        let primaries = out
            .iter()
            .filter(|v| v.get("primary") == Some(&Value::Bool(true)))
            .count();
        if primaries > 1 {
            return Err(ScimError::value(format!(
                "at most one of {shown} may be primary"
            )));
        }
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    check_single(at, value, shown)
}

fn check_single(at: &Attr, value: &Value, shown: &str) -> Result<Option<Value>, ScimError> {
    let wrong = |what: &str| ScimError::value(format!("{shown} must be {what}"));
    match (at.ty, value) {
        (_, Value::Null) => Ok(None),
        (Type::String | Type::Reference, Value::String(s)) => {
            if s.len() > 2048 || s.chars().any(|c| c.is_control()) {
                return Err(wrong(
                    "a string of at most 2048 bytes without control characters",
                ));
            }
            Ok(Some(value.clone()))
        }
        (Type::DateTime, Value::String(_)) => Ok(Some(value.clone())),
        (Type::Boolean, Value::Bool(_)) => Ok(Some(value.clone())),
        (Type::Complex, Value::Object(obj)) => {
            let mut out = Map::new();
            for (key, v) in obj {
                let Some(sub) = find(at.sub, key) else {
                    return Err(ScimError::value(format!(
                        "{key} is not a sub-attribute of {shown}"
                    )));
                };
                if let Some(v) = check_single(sub, v, &format!("{shown}.{}", sub.name))? {
                    out.insert(sub.name.to_owned(), v);
                }
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        (Type::Complex, _) => Err(wrong("an object")),
        (Type::Boolean, _) => Err(wrong("true or false")),
        _ => Err(wrong("a string")),
    }
}
