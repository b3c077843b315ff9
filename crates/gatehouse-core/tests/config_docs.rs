//! docs/configuration.md against the code that reads the configuration.
//!
//! The names `Config::from_vars` reads are found by asking it: it is given a getter that records
//! every name it is asked for, under configurations that turn every optional part on (L402, x402
//! and MPP, OAuth, API keys and tiers, the time-budget fallback, an origin credential, the admin
//! secret), once with the flat origin variables and once with `POLICY`, since the two branches
//! read different names. A part that stays off reads nothing, so its documented names would show
//! up as "documented but not read" and fail: the test cannot pass by enabling too little. Then:
//!
//! - every name in the page's tables is read, and every name read is in the tables;
//! - the names marked *secret* are the ones the Worker reads as secrets. That list is not part of
//!   `from_vars` (its getter is the Worker's), so it is read from `src/platform/config.rs`;
//! - a default written as a single literal is what the code falls back to: the configuration
//!   built with the name unset equals the one built with it set to the documented value;
//! - a name the Worker reads outside `from_vars` (found by a scan of `src/` for `.var("…")` and
//!   `.secret("…")`, the only other way it reads its environment) is not configuration, so it must
//!   be named on the page outside the tables;
//! - the `POLICY` example of docs/policy.md builds a configuration.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use gatehouse_core::config::Config;

const CONFIGURATION: &str = include_str!("../../../docs/configuration.md");
const POLICY_PAGE: &str = include_str!("../../../docs/policy.md");

/// The secret a route of the `POLICY` below names for its origin's credential: the operator's
/// choice of name, read only because the document names it.
const POLICY_SECRET: &str = "FILES_ORIGIN_KEY";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every optional part on, with values the configuration accepts.
fn all_on() -> BTreeMap<String, String> {
    [
        ("LOCAL_DEV", "false"),
        ("ORIGIN_URL", "https://mcp.example.com"),
        ("ORIGIN_AUTH_HEADER", "x-origin-key"),
        ("ORIGIN_AUTH_VALUE", "origin-credential"),
        ("TOKEN_SIGNING_KEYS", "k1:0123456789abcdef0123456789abcdef"),
        ("ADMIN_SECRET", "9f3c2a7b41d8e6f05a1b2c3d4e5f6071"),
        ("RATE_KEY_HEADER", "x-api-key"),
        ("KEY_TIERS", "free=60/60,pro=600/60+10000/3600"),
        ("BUDGET_REDUCED_TOOLS", "search"),
        ("CHALLENGE_OFFERS", "x402,mpp,l402,pow"),
        ("L402_BACKEND_URL", "https://lnbits.example.com"),
        ("L402_BACKEND_KEY", "invoice-key"),
        ("L402_ROOT_KEY", "l402-root-key-0123456789abcdef0123456789"),
        ("X402_NETWORK", "eip155:8453"),
        ("X402_ASSET", "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"),
        ("X402_ASSET_NAME", "USD Coin"),
        ("X402_ASSET_VERSION", "2"),
        ("X402_PAY_TO", "0x2e1f3c9a4b5d6e7f8091a2b3c4d5e6f708192a3b"),
        ("X402_PRICE_PER_CALL", "1000"),
        ("X402_FACILITATOR_URL", "https://x402.example.com"),
        ("X402_FACILITATOR_AUTH", "Bearer facilitator"),
        ("OAUTH_MODE", "optional"),
        ("OAUTH_ISSUER", "https://auth.example.com"),
        ("OAUTH_RESOURCE", "https://gw.example.com/mcp"),
        ("OAUTH_TOOL_SCOPES", "delete_file=files:write"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `vars` with the flat origin replaced by a `POLICY` document and the secret it names.
fn with_policy(mut vars: BTreeMap<String, String>, policy: &str) -> BTreeMap<String, String> {
    for name in ["ORIGIN_URL", "ORIGIN_AUTH_HEADER", "ORIGIN_AUTH_VALUE"] {
        vars.remove(name);
    }
    vars.insert("POLICY".into(), policy.to_string());
    vars.insert(POLICY_SECRET.into(), "files-credential".into());
    vars
}

/// Builds the configuration from `vars`, and the names it asked for.
fn build(vars: &BTreeMap<String, String>) -> (Result<Config, Vec<String>>, BTreeSet<String>) {
    let asked = RefCell::new(BTreeSet::new());
    let get = |name: &str| {
        asked.borrow_mut().insert(name.to_string());
        vars.get(name).cloned()
    };
    let built = Config::from_vars(&get);
    (built, asked.into_inner())
}

fn built(vars: &BTreeMap<String, String>, what: &str) -> (Config, BTreeSet<String>) {
    match build(vars) {
        (Ok(cfg), asked) => (cfg, asked),
        (Err(problems), _) => {
            panic!("{what} does not build, so some part stayed off: {problems:#?}")
        }
    }
}

/// A table row of the page: its names, its default cell, its meaning cell.
struct Row {
    names: Vec<String>,
    default: String,
    meaning: String,
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    // `\|` is a pipe inside a cell.
    inner
        .replace("\\|", "\u{0}")
        .split('|')
        .map(|c| c.replace('\u{0}', "|").trim().to_string())
        .collect()
}

/// The backticked spans of `text`, in order.
fn code_spans(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn is_variable_name(s: &str) -> bool {
    s.len() > 2
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Every row of every `| name | default | meaning |` table of the page.
fn rows(page: &str) -> Vec<Row> {
    let mut out = Vec::new();
    let mut in_table = false;
    for line in page.lines() {
        if !line.trim_start().starts_with('|') {
            in_table = false;
            continue;
        }
        let c = cells(line);
        if c == ["name", "default", "meaning"] {
            in_table = true;
            continue;
        }
        if !in_table || c.iter().all(|c| c.chars().all(|ch| ch == '-' || ch == ':')) {
            continue;
        }
        assert_eq!(
            c.len(),
            3,
            "a configuration row without three cells: {line}"
        );
        let names: Vec<String> = code_spans(&c[0])
            .into_iter()
            .filter(|s| is_variable_name(s))
            .collect();
        assert!(
            !names.is_empty(),
            "a configuration row that names no variable: {line}"
        );
        out.push(Row {
            names,
            default: c[1].clone(),
            meaning: c[2].clone(),
        });
    }
    out
}

fn documented() -> BTreeSet<String> {
    rows(CONFIGURATION)
        .into_iter()
        .flat_map(|r| r.names)
        .collect()
}

/// The `POLICY` document of docs/policy.md's worked example.
fn policy_example() -> String {
    let start = POLICY_PAGE
        .find("POLICY = '''")
        .expect("docs/policy.md shows a POLICY = '''…''' example")
        + "POLICY = '''".len();
    let end = start
        + POLICY_PAGE[start..]
            .find("'''")
            .expect("the POLICY example is closed");
    POLICY_PAGE[start..end].to_string()
}

/// Every name `from_vars` reads, over both branches.
fn read_names() -> BTreeSet<String> {
    let (_, flat) = built(&all_on(), "the flat configuration with every part on");
    let (_, policy) = built(
        &with_policy(all_on(), &policy_example()),
        "the POLICY configuration",
    );
    assert!(
        policy.contains(POLICY_SECRET),
        "the POLICY branch did not read the secret its route names: the branch was not taken"
    );
    flat.union(&policy)
        .filter(|n| *n != POLICY_SECRET)
        .cloned()
        .collect()
}

#[test]
fn every_documented_name_is_read_and_every_name_read_is_documented() {
    let read = read_names();
    let documented = documented();
    let unread: Vec<_> = documented.difference(&read).collect();
    let undocumented: Vec<_> = read.difference(&documented).collect();
    assert!(
        unread.is_empty() && undocumented.is_empty(),
        "docs/configuration.md and Config::from_vars disagree.\n  documented, never read: {unread:?}\n  read, not documented: {undocumented:?}"
    );
}

#[test]
fn the_names_marked_secret_are_the_ones_the_worker_reads_as_secrets() {
    let marked: BTreeSet<String> = rows(CONFIGURATION)
        .into_iter()
        .filter(|r| r.meaning.contains("*secret*"))
        .flat_map(|r| r.names)
        .collect();
    let path = root().join("src/platform/config.rs");
    let source =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = source
        .find("const SECRETS")
        .unwrap_or_else(|| panic!("{} no longer has `const SECRETS`: point this test at the list the Worker reads as secrets", path.display()));
    let end = start
        + source[start..]
            .find("];")
            .expect("the SECRETS list is closed");
    let secrets: BTreeSet<String> = source[start..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    assert_eq!(
        marked, secrets,
        "the names marked *secret* in docs/configuration.md, against the Worker's SECRETS"
    );
}

#[test]
fn a_literal_default_is_what_the_code_falls_back_to() {
    let mut checked = 0;
    for row in rows(CONFIGURATION) {
        // Only a default cell made of literals alone (`60`, or `12`, `14`, `16` for three names)
        // states a value; prose such as "required" or "the metadata's `jwks_uri`" does not.
        let literals = code_spans(&row.default);
        let only_literals = row.default.split(", ").all(|part| {
            part.len() > 1
                && part.starts_with('`')
                && part.ends_with('`')
                && part.matches('`').count() == 2
        });
        if !only_literals || literals.len() != row.names.len() {
            continue;
        }
        for (name, default) in row.names.iter().zip(&literals) {
            let mut unset = all_on();
            unset.remove(name);
            let mut set = unset.clone();
            set.insert(name.clone(), default.clone());
            let (a, _) = built(&unset, &format!("the configuration without {name}"));
            let (b, _) = built(&set, &format!("the configuration with {name}={default}"));
            assert!(a == b, "{name}: docs/configuration.md says the default is `{default}`, but setting it changes the configuration");
            checked += 1;
        }
    }
    assert!(
        checked >= 30,
        "only {checked} literal defaults were checked: the table's shape changed"
    );
}

/// The string literals read from the environment directly in `src/`, outside `from_vars`.
fn direct_reads(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            direct_reads(&path, out);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("a readable source file");
        for call in [".var(", ".secret("] {
            for (at, _) in source.match_indices(call) {
                let rest = source[at + call.len()..].trim_start();
                if let Some(literal) = rest.strip_prefix('"').and_then(|r| r.split('"').next()) {
                    if is_variable_name(literal) {
                        out.insert(literal.to_string());
                    }
                }
            }
        }
    }
}

#[test]
fn names_read_outside_the_configuration_are_named_on_the_page_but_not_in_its_tables() {
    let mut direct = BTreeSet::new();
    direct_reads(&root().join("src"), &mut direct);
    let documented = documented();
    let prose: String = CONFIGURATION
        .lines()
        .filter(|l| !l.trim_start().starts_with('|'))
        .collect::<Vec<_>>()
        .join("\n");
    for name in &direct {
        assert!(!documented.contains(name), "{name} is read outside Config::from_vars, so it is not a configuration variable; it is in the tables");
        assert!(
            prose.contains(&format!("`{name}`")),
            "{name} is read in src/ but docs/configuration.md does not mention it"
        );
    }
}

#[test]
fn the_policy_example_of_docs_policy_builds() {
    let (cfg, _) = built(
        &with_policy(all_on(), &policy_example()),
        "docs/policy.md's POLICY example",
    );
    let names: Vec<&str> = cfg.routes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["files", "search"]);
}
