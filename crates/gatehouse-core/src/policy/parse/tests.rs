use super::*;
use crate::origin::parse_origin;

pub fn route(name: &str, prefix: &str, host: Option<&str>) -> Route {
    Route {
        name: name.into(),
        prefix: prefix.into(),
        host: host.map(str::to_string),
        origin: parse_origin("https://origin.example", false).unwrap(),
        credential: None,
        quota: Policy::new(vec![Window::new("minute", 60, 60).unwrap()]).unwrap(),
        offers: vec![OfferKind::Pow],
        tool_scopes: None,
        costs: vec![],
        limits: vec![],
        in_band: false,
        legacy: Legacy::default(),
    }
}

pub const DOC: &str = r#"{"origins": [
    {"name": "files", "prefix": "/files", "url": "https://files.example.com/base",
     "credential": {"header": "X-Api-Key", "secret": "FILES_KEY"},
     "quota": {"per_minute": 30},
     "costs": [{"tool": "heavy_*", "weight": 10}, {"method": "*/list", "weight": 0},
               {"method": "initialize", "weight": 0}, {"resource": "file:///big/*", "weight": 5}],
     "limits": [{"name": "heavy", "tool": "heavy_*", "per_minute": 3}],
     "in_band": true,
     "legacy": {"user_agents": ["OldAgent/*"], "grace_seconds": 60}},
    {"name": "search", "host": "search.example.com", "url": "https://search.example.com",
     "offers": ["pow"], "tool_scopes": {"reindex": "search:admin"}}
]}"#;

fn get(name: &str) -> Option<String> {
    (name == "FILES_KEY").then(|| "files-secret".to_string())
}

pub fn defaults() -> Defaults {
    let r = route("default", "/", None);
    Defaults {
        quota: r.quota,
        offers: r.offers,
        in_band: false,
        legacy: Legacy::default(),
    }
}

pub fn policy_routes() -> Vec<Route> {
    parse_policy(DOC, &defaults(), &get, false).unwrap()
}

#[test]
fn a_policy_document_describes_each_origin() {
    let routes = policy_routes();
    let files = &routes[0];
    assert_eq!(
        files.origin.join("/mcp"),
        "https://files.example.com/base/mcp"
    );
    assert_eq!(files.credential.as_ref().unwrap().header, "x-api-key");
    assert_eq!(files.credential.as_ref().unwrap().value, "files-secret");
    assert_eq!(files.quota.windows()[0].quota, 30);
    assert_eq!(files.limits[0].policy.windows()[0].name, "heavy:minute");
    assert!(files.in_band);
    assert!(files.legacy.user_agents[0].matches("OldAgent/2.1"));
    let search = &routes[1];
    assert_eq!(search.host.as_deref(), Some("search.example.com"));
    assert_eq!(search.prefix, "/");
    assert_eq!(
        search.quota.windows()[0].quota,
        60,
        "defaults fill what an origin leaves out"
    );
    assert_eq!(
        search.tool_scopes.as_ref().unwrap()[0],
        ("reindex".to_string(), vec!["search:admin".to_string()])
    );
}

#[test]
fn every_problem_is_reported() {
    let doc = r#"{"origins": [
        {"name": "Bad Name", "url": "https://x.example"},
        {"name": "a", "url": "http://10.0.0.1", "prefix": "files/", "quota": {}},
        {"name": "b", "url": "https://b.example", "costs": [{"tool": "x"}, {"tool": "y", "method": "z", "weight": 1}],
         "limits": [{"name": "l", "method": "ping", "per_minute": 1}], "offers": ["bitcoin"], "colour": "red"},
        {"name": "b", "url": "https://c.example"},
        {"name": "c", "url": "https://c.example", "credential": {"secret": "MISSING"}}
    ]}"#;
    let problems = parse_policy(doc, &defaults(), &get, false).unwrap_err();
    for needle in [
        "Bad Name",
        "SSRF",
        "prefix",
        "per_minute or per_hour",
        "weight",
        "exactly one",
        "tool or a resource",
        "bitcoin",
        "colour",
        "twice",
        "MISSING",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "{needle}: {problems:#?}"
        );
    }
}

#[test]
fn not_json_or_no_origins_is_refused() {
    let d = defaults();
    assert!(parse_policy("nope", &d, &get, false).unwrap_err()[0].contains("not JSON"));
    assert!(
        parse_policy("{\"origins\": []}", &d, &get, false).unwrap_err()[0].contains("non-empty")
    );
}
