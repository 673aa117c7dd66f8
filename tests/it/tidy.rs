//! Tidy tests: docs and code stay in step (every config key and reference metric is documented), and the
//! crate graph stays the architecture.

use std::fs;

fn read(path: &str) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `section.key` for every key of the embedded defaults.
fn default_config_keys() -> Vec<String> {
    let value: toml::Value = read("config/default.toml")
        .parse()
        .expect("default.toml parses");
    let mut keys = Vec::new();
    for (section, table) in value.as_table().expect("a table") {
        for key in table.as_table().expect("sections are tables").keys() {
            keys.push(format!("{section}.{key}"));
        }
    }
    keys
}

#[test]
fn every_default_config_key_is_in_the_readme() {
    let readme = read("README.md");
    let missing: Vec<_> = default_config_keys()
        .into_iter()
        .filter(|k| {
            let (section, key) = k.split_once('.').unwrap();
            // Grouped rows name a section once and then its keys: `alerts.a` / `b` / `c`.
            !readme.contains(&format!("`{k}`")) && !readme.contains(&format!("`{key}`"))
                || !readme.contains(&format!("`{section}."))
        })
        .collect();
    assert!(missing.is_empty(), "README lacks config keys: {missing:?}");
}

#[test]
fn every_reference_metric_is_in_the_readme_and_the_code() {
    let contract = read("docs/reference.md");
    let readme = read("README.md");
    let mut code = String::new();
    for entry in source_files() {
        code.push_str(&read(&entry));
    }
    let names: std::collections::BTreeSet<String> = contract
        .split('`')
        .filter(|s| s.starts_with("gsl_") && s.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(str::to_owned)
        .collect();
    assert!(names.len() >= 20, "found only {names:?}");
    let undocumented: Vec<_> = names
        .iter()
        .filter(|n| !readme.contains(n.as_str()))
        .collect();
    assert!(undocumented.is_empty(), "README lacks {undocumented:?}");
    let unimplemented: Vec<_> = names
        .iter()
        .filter(|n| !code.contains(n.as_str()))
        .collect();
    assert!(
        unimplemented.is_empty(),
        "the code never names {unimplemented:?}"
    );
}

#[test]
fn every_source_file_opens_with_a_doc_line() {
    let bare: Vec<_> = source_files()
        .into_iter()
        .filter(|p| p != "src/main.rs" && !p.ends_with("build.rs") && !read(p).starts_with("//!"))
        .collect();
    assert!(bare.is_empty(), "files without a //! line: {bare:?}");
}

/// Every Rust source file of the edge package and the workspace's crates.
fn source_files() -> Vec<String> {
    let mut files = walk("src");
    for entry in fs::read_dir("crates").unwrap().flatten() {
        files.extend(walk(&format!("{}/src", entry.path().display())));
    }
    files
}

/// The crate graph is the architecture: each crate may depend on these workspace crates and no others.
const ALLOWED: &[(&str, &[&str])] = &[
    ("gsl-domain", &[]),
    ("gsl-client", &["gsl-domain"]),
    ("gsl-simulator", &["gsl-domain"]),
    ("gsl-store", &["gsl-domain"]),
    ("gsl-jobs", &["gsl-domain", "gsl-client", "gsl-store"]),
    ("gsl-metrics", &["gsl-domain", "gsl-store"]),
    ("gsl-alerts", &["gsl-domain", "gsl-store"]),
    ("gsl-report", &["gsl-domain", "gsl-store"]),
];

fn workspace_deps(manifest: &toml::Value) -> Vec<String> {
    ["dependencies", "dev-dependencies", "build-dependencies"]
        .iter()
        .filter_map(|t| manifest.get(t).and_then(|d| d.as_table()))
        .flat_map(|d| d.keys().cloned())
        .filter(|k| k.starts_with("gsl-"))
        .collect()
}

#[test]
fn no_crate_depends_on_what_the_architecture_forbids() {
    let mut seen = Vec::new();
    for entry in fs::read_dir("crates").unwrap().flatten() {
        let manifest: toml::Value = read(&format!("{}/Cargo.toml", entry.path().display()))
            .parse()
            .expect("Cargo.toml parses");
        let name = manifest["package"]["name"].as_str().unwrap().to_owned();
        let allowed = ALLOWED
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name} is not in the architecture's crate list"))
            .1;
        let forbidden: Vec<_> = workspace_deps(&manifest)
            .into_iter()
            .filter(|d| !allowed.contains(&d.as_str()))
            .collect();
        assert!(
            forbidden.is_empty(),
            "{name} depends on {forbidden:?}, which ARCHITECTURE.md forbids"
        );
        seen.push(name);
    }
    assert_eq!(seen.len(), ALLOWED.len(), "crates: {seen:?}");
    let architecture = read("ARCHITECTURE.md");
    for (name, _) in ALLOWED {
        assert!(
            architecture.contains(name),
            "ARCHITECTURE.md does not name {name}"
        );
    }
}

/// The crates that turn on `gsl-domain`'s `sqlx` feature (`sqlx::Type` for the ids): those that speak SQL.
const DOMAIN_SQLX_FEATURE: &[&str] = &["gsl-store"];

/// `gsl-domain` may use sqlx only for the ids' type derive: an optional dependency behind its own `sqlx`
/// feature, off by default, turned on only by the crates listed above.
#[test]
fn the_domain_speaks_sql_only_through_its_optional_sqlx_feature() {
    let domain: toml::Value = read("crates/domain/Cargo.toml").parse().expect("parses");
    let sqlx = &domain["dependencies"]["sqlx"];
    assert_eq!(
        sqlx.get("optional").and_then(toml::Value::as_bool),
        Some(true),
        "gsl-domain's sqlx must be optional: {sqlx}"
    );
    let features = domain["features"].as_table().expect("[features]");
    assert_eq!(
        features
            .get("sqlx")
            .and_then(toml::Value::as_array)
            .cloned(),
        Some(vec![toml::Value::from("dep:sqlx")]),
        "the sqlx feature enables only sqlx"
    );
    let default = features.get("default").and_then(toml::Value::as_array);
    assert!(
        default.is_none_or(|d| !d.iter().any(|f| f.as_str() == Some("sqlx"))),
        "the sqlx feature is not on by default"
    );
    let mut manifests = vec!["Cargo.toml".to_owned()];
    for entry in fs::read_dir("crates").unwrap().flatten() {
        manifests.push(format!("{}/Cargo.toml", entry.path().display()));
    }
    let mut enabling = Vec::new();
    for path in manifests {
        let manifest: toml::Value = read(&path).parse().expect("Cargo.toml parses");
        let Some(name) = manifest.get("package").and_then(|p| p["name"].as_str()) else {
            continue;
        };
        let enables = ["dependencies", "dev-dependencies", "build-dependencies"]
            .iter()
            .filter_map(|t| {
                manifest
                    .get(t)?
                    .get("gsl-domain")?
                    .get("features")?
                    .as_array()
            })
            .flatten()
            .any(|f| f.as_str() == Some("sqlx"));
        if enables {
            enabling.push(name.to_owned());
        }
    }
    enabling.sort();
    assert_eq!(
        enabling, DOMAIN_SQLX_FEATURE,
        "crates enabling gsl-domain/sqlx"
    );
}

#[test]
fn only_the_edge_reads_the_environment() {
    let readers: Vec<_> = source_files()
        .into_iter()
        .filter(|p| !p.starts_with("src/config/") && !p.starts_with("src/app/temp_pg.rs"))
        .filter(|p| {
            let text = read(p);
            text.contains("env::var(")
                || text.contains("env::var_os(")
                || text.contains("env::vars(")
        })
        .collect();
    assert!(
        readers.is_empty(),
        "environment read outside config: {readers:?}"
    );
}

fn walk(dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path().to_string_lossy().into_owned();
        if entry.path().is_dir() {
            out.extend(walk(&path));
        } else if path.ends_with(".rs") {
            out.push(path);
        }
    }
    out
}
