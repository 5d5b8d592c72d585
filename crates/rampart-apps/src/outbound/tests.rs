use super::*;
use proptest::prelude::*;
use serde_json::json;

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

fn method(verb: HttpMethod, path: &str) -> IntegrationMethod {
    IntegrationMethod {
        name: "m".into(),
        method: verb,
        path: path.into(),
        description: String::new(),
    }
}

fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn origins_are_scheme_host_and_port_as_urls_normalise_them() {
    let cases = [
        (
            "https://Pay.Example.COM/v1?x=1",
            Some("https://pay.example.com:443"),
        ),
        (
            "http://pay.example.com:8080/",
            Some("http://pay.example.com:8080"),
        ),
        ("http://127.0.0.1:9/", Some("http://127.0.0.1:9")),
        // Other spellings of an address are that address.
        ("http://0x7f.1/", Some("http://127.0.0.1:80")),
        ("http://2130706433/", Some("http://127.0.0.1:80")),
        (
            "https://[::FFFF:127.0.0.1]/",
            Some("https://[::ffff:127.0.0.1]:443"),
        ),
        ("http://localhost/", Some("http://localhost:80")),
        ("ftp://pay.example.com/", None),
        ("file:///etc/passwd", None),
        ("data:text/plain,x", None),
    ];
    for (text, want) in cases {
        let got = Origin::of(&url(text)).map(|o| o.to_string());
        assert_eq!(got.as_deref(), want, "{text}");
    }
}

#[test]
fn base_urls_are_an_origin_and_a_path() {
    let cases: &[(&str, Result<&str, &str>)] = &[
        (
            "https://pay.example.com/v1",
            Ok("https://pay.example.com/v1"),
        ),
        ("http://10.0.0.7:8080", Ok("http://10.0.0.7:8080/")),
        (
            "https://pay.example.com/v1?key=hunter2",
            Err("query string"),
        ),
        ("https://hunter2 x.example.com/", Err("not a URL")),
        (
            "https://pay.example.com/v1#top",
            Err("query string or fragment"),
        ),
        (
            "https://user:hunter2@pay.example.com/",
            Err("user name or password"),
        ),
        ("ftp://pay.example.com/", Err("not an http(s) URL")),
        ("https://[bad/", Err("not a URL")),
        ("pay.example.com", Err("not a URL")),
    ];
    for (text, want) in cases {
        match (base_url(text), want) {
            (Ok(u), Ok(w)) => assert_eq!(u.as_str(), *w, "{text}"),
            (Err(e), Err(w)) => {
                assert!(e.contains(w), "{text}: {e}");
                assert!(!e.contains("hunter2"), "{text}: a URL is never echoed: {e}");
            }
            (got, _) => panic!("{text}: {got:?}"),
        }
    }
}

fn module(yaml: &str) -> Module {
    rampart_model::parse("m.yaml", yaml).unwrap()
}

#[test]
fn the_allow_list_holds_the_origins_in_force_and_an_override_replaces_the_model() {
    let billing = module(
        "
module: billing
application: a
integrations:
  - name: Pay
    base_url: https://pay.example.com/v1
    methods: [{name: charge, method: POST, path: /charges}]
  - name: Tax
    base_url: https://tax.example.com
    methods: [{name: rate, method: GET, path: /rates}]
  - name: Broken
    base_url: https://broken.example.com
    methods: [{name: x, method: GET, path: /x}]
",
    );
    let crm = module(
        "
module: crm
application: b
integrations:
  - name: Mail
    base_url: http://10.0.0.7:8025/api
    methods: [{name: send, method: POST, path: /send}]
",
    );
    // Publishing and saving a plan refuse a broken URL; one stored before those checks
    // (here, a plan's) still never reaches the allow-list.
    let overrides: BTreeMap<String, String> = [
        (
            "billing.Tax".to_owned(),
            "http://tax.internal:8080/v2".to_owned(),
        ),
        ("billing.Broken".to_owned(), "https://[bad/".to_owned()),
    ]
    .into();
    let endpoints = Endpoints::new([&billing, &crm], &overrides);
    let allowed: Vec<String> = endpoints
        .allow_list()
        .origins()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        allowed,
        [
            "http://tax.internal:8080",
            "http://10.0.0.7:8025",
            "https://pay.example.com:443",
        ]
    );
    let base = |m: &str, i: &str| endpoints.base(m, i).map(|b| b.map(Url::to_string));
    assert_eq!(
        base("billing", "Tax"),
        Some(Ok("http://tax.internal:8080/v2".into()))
    );
    assert_eq!(
        base("billing", "Pay"),
        Some(Ok("https://pay.example.com/v1".into()))
    );
    assert!(matches!(base("billing", "Broken"), Some(Err(e)) if e.contains("not a URL")));
    assert_eq!(base("billing", "Nope"), None);
    assert_eq!(base("nobody", "Pay"), None);
    let allow = endpoints.allow_list();
    for (text, want) in [
        ("https://pay.example.com/other/path", true),
        ("https://pay.example.com:443/", true),
        ("http://pay.example.com/", false),
        ("https://pay.example.com:8443/", false),
        ("https://tax.example.com/", false),
        ("http://tax.internal:8080/", true),
        ("http://10.0.0.7:8025/", true),
        ("http://10.0.0.7:80/", false),
        ("http://127.0.0.1:8025/", false),
    ] {
        assert_eq!(
            allow.allows(&Origin::of(&url(text)).unwrap()),
            want,
            "{text}"
        );
    }
    // Without the override, the model's base URL is allowed again.
    let plain = Endpoints::new([&billing], &BTreeMap::new()).allow_list();
    assert!(plain.allows(&Origin::of(&url("https://tax.example.com/")).unwrap()));
}

#[test]
fn calls_put_path_arguments_in_one_segment_and_the_rest_in_the_query_or_body() {
    let base = url("https://api.example.com/v1/");
    let cases: &[(HttpMethod, &str, Value, &str, Option<Value>)] = &[
        (
            HttpMethod::Get,
            "/invoices/{id}",
            json!({"id": "A-7"}),
            "https://api.example.com/v1/invoices/A-7",
            None,
        ),
        (
            HttpMethod::Get,
            "/invoices/{id}",
            json!({"id": 42, "expand": true}),
            "https://api.example.com/v1/invoices/42?expand=true",
            None,
        ),
        (
            HttpMethod::Get,
            "/invoices/{id}",
            json!({"id": "../../admin"}),
            "https://api.example.com/v1/invoices/..%2F..%2Fadmin",
            None,
        ),
        (
            HttpMethod::Get,
            "/invoices/{id}",
            json!({"id": "x?admin=1#f"}),
            "https://api.example.com/v1/invoices/x%3Fadmin%3D1%23f",
            None,
        ),
        (
            HttpMethod::Get,
            "/invoices/{id}",
            json!({"id": "%2e%2e"}),
            "https://api.example.com/v1/invoices/%252e%252e",
            None,
        ),
        (
            HttpMethod::Get,
            "/invoices/{id}",
            json!({"id": "a\\b"}),
            "https://api.example.com/v1/invoices/a%5Cb",
            None,
        ),
        (
            HttpMethod::Get,
            "/invoices/{id}",
            json!({"id": "ü @"}),
            "https://api.example.com/v1/invoices/%C3%BC%20%40",
            None,
        ),
        (
            HttpMethod::Get,
            "/files/{name}.json",
            json!({"name": "..."}),
            "https://api.example.com/v1/files/....json",
            None,
        ),
        (
            HttpMethod::Get,
            "/search",
            json!({"q": "a&b=c", "tag": ["x", "y"], "skip": null}),
            "https://api.example.com/v1/search?q=a%26b%3Dc&tag=x&tag=y",
            None,
        ),
        (
            HttpMethod::Delete,
            "/invoices/{id}",
            json!({"id": "7", "reason": "dup"}),
            "https://api.example.com/v1/invoices/7?reason=dup",
            None,
        ),
        (
            HttpMethod::Post,
            "/invoices",
            json!({"amount": 10, "lines": [{"sku": "a"}]}),
            "https://api.example.com/v1/invoices",
            Some(json!({"amount": 10, "lines": [{"sku": "a"}]})),
        ),
        (
            HttpMethod::Put,
            "/invoices/{id}",
            json!({"id": "7", "amount": 3}),
            "https://api.example.com/v1/invoices/7",
            Some(json!({"amount": 3})),
        ),
        (
            HttpMethod::Patch,
            "/invoices/{id}",
            json!({"id": "7"}),
            "https://api.example.com/v1/invoices/7",
            Some(json!({})),
        ),
        // Braces that are not a placeholder are path text.
        (
            HttpMethod::Get,
            "/a{/b{}",
            json!({}),
            "https://api.example.com/v1/a%7B/b%7B%7D",
            None,
        ),
    ];
    for (verb, path, a, want_url, want_body) in cases {
        let call = build_call(&base, &method(*verb, path), &args(a.clone())).unwrap();
        assert_eq!(call.url.as_str(), *want_url, "{path} {a}");
        assert_eq!(&call.body, want_body, "{path} {a}");
        assert_eq!(call.method, *verb);
    }
    // A base URL without a path.
    let bare = build_call(
        &url("http://10.0.0.7:8025"),
        &method(HttpMethod::Get, "/x"),
        &Map::new(),
    )
    .unwrap();
    assert_eq!(bare.url.as_str(), "http://10.0.0.7:8025/x");
}

#[test]
fn arguments_that_cannot_be_placed_are_refused_by_name() {
    let base = url("https://api.example.com/v1");
    let cases: &[(HttpMethod, &str, Value, &str, &str)] = &[
        (
            HttpMethod::Get,
            "/invoices/{id}",
            json!({}),
            "id",
            "is required",
        ),
        (
            HttpMethod::Get,
            "/invoices/{id}",
            json!({"id": null}),
            "id",
            "must be text",
        ),
        (
            HttpMethod::Get,
            "/invoices/{id}",
            json!({"id": {"a": 1}}),
            "id",
            "must be text",
        ),
        (
            HttpMethod::Get,
            "/invoices/{id}",
            json!({"id": [1]}),
            "id",
            "must be text",
        ),
        (
            HttpMethod::Get,
            "/invoices/{id}",
            json!({"id": ""}),
            "id",
            "empty",
        ),
        (
            HttpMethod::Get,
            "/invoices/{id}",
            json!({"id": "."}),
            "id",
            "`..`",
        ),
        (
            HttpMethod::Get,
            "/invoices/{id}",
            json!({"id": ".."}),
            "id",
            "`..`",
        ),
        (
            HttpMethod::Get,
            "/search",
            json!({"filter": {"a": 1}}),
            "filter",
            "query string",
        ),
        (
            HttpMethod::Get,
            "/search",
            json!({"tags": [[1]]}),
            "tags",
            "query string",
        ),
        // A template that builds a dot segment out of `%` and an argument.
        (
            HttpMethod::Get,
            "/x/.%{a}",
            json!({"a": "2e"}),
            "path",
            "leave",
        ),
    ];
    for (verb, path, a, argument, says) in cases {
        let e = build_call(&base, &method(*verb, path), &args(a.clone())).unwrap_err();
        assert_eq!(e.argument, *argument, "{path} {a}");
        assert!(e.reason.contains(says), "{path} {a}: {e}");
    }
}

#[test]
fn redirects_are_followed_only_inside_the_allow_list_without_downgrade() {
    let allow: AllowList = [
        "https://api.example.com/",
        "https://cdn.example.com/",
        "http://plain.example.com/",
        "http://127.0.0.1:8080/",
    ]
    .into_iter()
    .map(|t| Origin::of(&url(t)).unwrap())
    .collect();
    let from = url("https://api.example.com/v1/invoices/7?x=1");
    type Case<'a> = (&'a str, &'a str, usize, Result<&'a str, RedirectRefusal>);
    let origin = |t: &str| Origin::of(&url(t)).unwrap();
    let cases: &[Case] = &[
        (
            from.as_str(),
            "/v2/invoices/7",
            0,
            Ok("https://api.example.com/v2/invoices/7"),
        ),
        (
            from.as_str(),
            "8",
            0,
            Ok("https://api.example.com/v1/invoices/8"),
        ),
        (
            from.as_str(),
            "https://cdn.example.com/file?sig=abc",
            4,
            Ok("https://cdn.example.com/file?sig=abc"),
        ),
        (
            from.as_str(),
            "https://cdn.example.com/file",
            5,
            Err(RedirectRefusal::TooMany),
        ),
        (
            from.as_str(),
            "http://127.0.0.1:8081/",
            0,
            Err(RedirectRefusal::Downgrade(origin("http://127.0.0.1:8081/"))),
        ),
        (
            "http://127.0.0.1:8080/a",
            "http://127.0.0.1:8081/",
            0,
            Err(RedirectRefusal::NotAllowed(origin(
                "http://127.0.0.1:8081/",
            ))),
        ),
        (
            "http://127.0.0.1:8080/a",
            "http://localhost:8080/",
            0,
            Err(RedirectRefusal::NotAllowed(origin(
                "http://localhost:8080/",
            ))),
        ),
        (
            "http://127.0.0.1:8080/a",
            "http://169.254.169.254/latest/meta-data/",
            0,
            Err(RedirectRefusal::NotAllowed(origin(
                "http://169.254.169.254/",
            ))),
        ),
        (
            "http://127.0.0.1:8080/a",
            "http://plain.example.com/b",
            0,
            Ok("http://plain.example.com/b"),
        ),
        (
            "http://plain.example.com/a",
            "https://api.example.com/b",
            0,
            Ok("https://api.example.com/b"),
        ),
        (
            from.as_str(),
            "http://plain.example.com/b",
            0,
            Err(RedirectRefusal::Downgrade(origin(
                "http://plain.example.com/",
            ))),
        ),
        (
            from.as_str(),
            "https://evil.example.org/",
            0,
            Err(RedirectRefusal::NotAllowed(origin(
                "https://evil.example.org/",
            ))),
        ),
        (
            from.as_str(),
            "//evil.example.org/x",
            0,
            Err(RedirectRefusal::NotAllowed(origin(
                "https://evil.example.org/",
            ))),
        ),
        (
            from.as_str(),
            "https://user:pw@api.example.com/",
            0,
            Err(RedirectRefusal::UserInfo),
        ),
        (
            from.as_str(),
            "file:///etc/passwd",
            0,
            Err(RedirectRefusal::NotHttp),
        ),
        (
            from.as_str(),
            "gopher://api.example.com/",
            0,
            Err(RedirectRefusal::NotHttp),
        ),
        (
            from.as_str(),
            "http://[::1",
            0,
            Err(RedirectRefusal::Unparsable),
        ),
    ];
    for (from, location, followed, want) in cases {
        let got = follow_redirect(&allow, &url(from), location, *followed);
        match (got, want) {
            (Ok(u), Ok(w)) => assert_eq!(u.as_str(), *w, "{from} → {location}"),
            (Err(e), Err(w)) => assert_eq!(&e, w, "{from} → {location}"),
            (got, _) => panic!("{from} → {location}: {got:?}"),
        }
    }
    assert_eq!(
        RedirectRefusal::NotAllowed(origin("http://127.0.0.1:8081/")).to_string(),
        "a redirect to http://127.0.0.1:8081, which no integration of the environment calls"
    );
}

#[test]
fn a_redirect_keeps_or_changes_the_method_as_browsers_do() {
    use HttpMethod::*;
    let cases = [
        (301, Get, (Get, true)),
        (301, Post, (Get, false)),
        (302, Post, (Get, false)),
        (302, Put, (Put, true)),
        (303, Post, (Get, false)),
        (303, Delete, (Get, false)),
        (307, Post, (Post, true)),
        (308, Patch, (Patch, true)),
    ];
    for (status, m, want) in cases {
        assert_eq!(method_after_redirect(status, m), want, "{status} {m:?}");
    }
}

#[test]
fn credentials_go_to_the_integrations_own_origin_only() {
    let own = Origin::of(&url("https://api.example.com/v1")).unwrap();
    for (text, want) in [
        ("https://api.example.com/v2", true),
        ("https://api.example.com:8443/", false),
        ("https://cdn.example.com/", false),
        ("http://api.example.com/", false),
    ] {
        assert_eq!(
            sends_credentials(&own, &Origin::of(&url(text)).unwrap()),
            want,
            "{text}"
        );
    }
}

#[test]
fn names_must_resolve_to_public_or_listed_addresses_and_addresses_are_taken_as_declared() {
    let ip = |t: &str| -> IpAddr { t.parse().unwrap() };
    let name = Host::Name("api.example.com".into());
    let localhost = Host::Name("localhost".into());
    // (host, address, listed among the internal networks, allowed)
    let cases: &[(&Host, &str, bool, bool)] = &[
        (&name, "93.184.215.14", false, true),
        (&name, "2606:4700::6810:84e5", false, true),
        (&name, "127.0.0.1", false, false),
        (&name, "10.1.2.3", false, false),
        (&name, "10.1.2.3", true, true),
        (&name, "::1", false, false),
        (&name, "::ffff:127.0.0.1", false, false),
        (&localhost, "127.0.0.1", false, false),
        (&localhost, "127.0.0.1", true, true),
        (&localhost, "127.8.9.10", true, true),
        (&localhost, "::1", true, true),
        (&localhost, "10.1.2.3", true, false),
        (&localhost, "93.184.215.14", false, false),
        (&Host::Ip(ip("93.184.215.14")), "93.184.215.14", false, true),
        (&Host::Ip(ip("10.0.0.7")), "10.0.0.7", false, false),
        (&Host::Ip(ip("10.0.0.7")), "10.0.0.7", true, true),
        (&Host::Ip(ip("10.0.0.7")), "10.0.0.8", true, false),
        (
            &Host::Ip(ip("169.254.169.254")),
            "169.254.169.254",
            false,
            false,
        ),
        (&Host::Ip(ip("127.0.0.1")), "127.0.0.1", false, false),
        (&Host::Ip(ip("127.0.0.1")), "127.0.0.1", true, true),
        (&Host::Ip(ip("::1")), "::1", true, true),
        (&Host::Ip(ip("::1")), "127.0.0.1", true, false),
    ];
    for (host, address, internal, want) in cases {
        assert_eq!(
            address_allowed(host, ip(address), *internal),
            *want,
            "{host:?} {address} {internal}"
        );
    }
}

#[test]
fn public_addresses_exclude_every_internal_special_and_reserved_range() {
    let cases = [
        // Public.
        ("1.1.1.1", true),
        ("8.8.8.8", true),
        ("93.184.215.14", true),
        ("100.63.255.255", true),
        ("100.128.0.0", true),
        ("172.15.255.255", true),
        ("172.32.0.0", true),
        ("192.0.1.1", true),
        ("192.169.0.1", true),
        ("198.20.0.1", true),
        ("223.255.255.255", true),
        ("2606:4700::1111", true),
        ("2a00:1450:4001::200e", true),
        ("::ffff:8.8.8.8", true),
        ("64:ff9b::808:808", true),
        // Not public.
        ("0.0.0.0", false),
        ("0.1.2.3", false),
        ("10.0.0.1", false),
        ("100.64.0.1", false),
        ("100.127.255.254", false),
        ("127.0.0.1", false),
        ("127.255.255.255", false),
        ("169.254.169.254", false),
        ("172.16.0.1", false),
        ("172.31.255.255", false),
        ("192.0.0.8", false),
        ("192.0.2.1", false),
        ("192.88.99.1", false),
        ("192.168.1.1", false),
        ("198.18.0.1", false),
        ("198.19.255.255", false),
        ("198.51.100.1", false),
        ("203.0.113.1", false),
        ("224.0.0.1", false),
        ("239.255.255.250", false),
        ("240.0.0.1", false),
        ("255.255.255.255", false),
        ("::", false),
        ("::1", false),
        ("::127.0.0.1", false),
        ("::ffff:127.0.0.1", false),
        ("::ffff:10.0.0.1", false),
        ("::ffff:169.254.169.254", false),
        ("::ffff:0.0.0.0", false),
        ("64:ff9b::7f00:1", false),
        ("64:ff9b::a00:1", false),
        ("64:ff9b:1::1", false),
        ("100::1", false),
        ("2001::1", false),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", false),
        ("2001:db8::1", false),
        ("2002:7f00:1::1", false),
        ("3fff::1", false),
        ("fc00::1", false),
        ("fd12:3456::1", false),
        ("fe80::1", false),
        ("fec0::1", false),
        ("ff02::1", false),
        ("4000::1", false),
        ("5f00::1", false),
    ];
    for (address, want) in cases {
        assert_eq!(is_public(address.parse().unwrap()), want, "{address}");
    }
}

#[test]
fn recorded_targets_keep_no_query_user_information_or_path_parameters() {
    let cases = [
        (
            "https://api.example.com/v1/x?token=abc#f",
            "https://api.example.com:443/v1/x",
        ),
        (
            "https://user:pw@api.example.com/a;jsessionid=123/b",
            "https://api.example.com:443/a/b",
        ),
        ("http://[::1]:8080/", "http://[::1]:8080/"),
    ];
    for (text, want) in cases {
        assert_eq!(recorded_target(&url(text)), want, "{text}");
    }
    let long = url(&format!("https://api.example.com/{}", "é".repeat(3_000)));
    assert!(recorded_target(&long).len() <= 2_048);
}

/// Percent-decodes a path segment (the test's own decoder, independent of the encoder).
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&segment[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Argument text that tries to escape: separators, dots, encoded dots, backslashes.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                Just("/"),
                Just(".."),
                Just("."),
                Just("%2e"),
                Just("%2F"),
                Just("\\"),
                Just("?"),
                Just("#"),
                Just("@"),
                Just(":"),
                Just("//evil.example.org"),
                Just("http://evil.example.org/"),
                Just("%"),
                Just("&"),
                Just("="),
                Just("a"),
                Just("\r\n"),
                Just(" "),
                Just("é"),
            ],
            0..8,
        )
        .prop_map(|parts| parts.concat()),
    ]
}

proptest! {
    /// No argument changes the origin, adds or removes a path segment, or reaches the query
    /// string of a call that has none; each path argument is exactly its segment, and the
    /// query string gives back exactly the other arguments.
    #[test]
    fn no_argument_changes_the_origin_or_escapes_the_path(
        id in hostile_text(),
        part in hostile_text(),
        extra in hostile_text(),
        get in any::<bool>(),
    ) {
        let base = url("https://api.example.com:8443/v1");
        let verb = if get { HttpMethod::Get } else { HttpMethod::Post };
        let a = args(json!({ "id": id, "part": part, "extra": extra }));
        match build_call(&base, &method(verb, "/orders/{id}/lines/{part}"), &a) {
            Ok(call) => {
                prop_assert_eq!(Origin::of(&call.url), Origin::of(&base));
                prop_assert!(call.url.username().is_empty() && call.url.password().is_none());
                prop_assert!(call.url.fragment().is_none());
                let segments: Vec<&str> = call.url.path_segments().unwrap().collect();
                prop_assert_eq!(segments.len(), 5, "{}", call.url);
                prop_assert_eq!(&segments[..1], &["v1"]);
                prop_assert_eq!(segments[1], "orders");
                prop_assert_eq!(segments[3], "lines");
                prop_assert_eq!(decode(segments[2]), id.clone());
                prop_assert_eq!(decode(segments[4]), part.clone());
                if get {
                    let pairs: Vec<(String, String)> = call.url.query_pairs().into_owned().collect();
                    prop_assert_eq!(pairs, vec![("extra".to_owned(), extra.clone())]);
                    prop_assert!(call.body.is_none());
                } else {
                    prop_assert!(call.url.query().is_none());
                    prop_assert_eq!(call.body, Some(json!({ "extra": extra })));
                }
            }
            Err(e) => {
                // Only an empty or dot-only path argument is refused.
                let refused = [&id, &part].iter().any(|t| t.is_empty() || *t == "." || *t == "..");
                prop_assert!(refused, "{e}");
            }
        }
    }
}

/// What a module or a deployment plan may name as a base URL (`is_service_url`, checked at
/// publish and when a plan is saved) is a base URL the outbound client takes: a plan is
/// refused when it is written, never when an action first calls it.
#[test]
fn base_urls_accepted_at_publish_are_taken_at_call_time() {
    use proptest::prelude::*;
    use rampart_model::validate::is_service_url;
    let pieces = prop::collection::vec(
        prop::sample::select(vec![
            "https://",
            "http://",
            "ftp://",
            "pay",
            "example.com",
            ".",
            "-",
            "_",
            ":",
            "8080",
            "99999",
            "+80",
            "[::1]",
            "[::1",
            "]",
            "/",
            "/v1",
            "?",
            "q=1",
            "#",
            "@",
            "user",
            "%20",
            "%zz",
            " ",
            "\\",
            "é",
            "10.0.0.7",
            "",
            "Z",
        ]),
        0..8,
    )
    .prop_map(|parts| parts.concat());
    proptest!(ProptestConfig::with_cases(4096), |(text in pieces)| {
        if is_service_url(&text) {
            prop_assert!(base_url(&text).is_ok(), "{text:?}: {:?}", base_url(&text));
        }
    });
    // And the cases a plan writer meets, both ways.
    for (text, ok) in [
        ("https://pay.example.com/v1", true),
        ("http://10.0.0.7:8080", true),
        ("http://[::1]:8080/api", true),
        ("https://pay.example.com/v1?key=hunter2", false),
        ("https://pay.example.com/v1#top", false),
        ("https://user@pay.example.com/", false),
        ("https://pay.example.com:99999/", false),
        ("https://pay.example.com:+80/", false),
    ] {
        assert_eq!(is_service_url(text), ok, "{text}");
        assert_eq!(base_url(text).is_ok(), ok, "{text}");
    }
}
