//! Tidy tests: docs and code stay in step (every config key and contract metric is documented).

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
fn every_contract_metric_is_in_the_readme_and_the_code() {
    let contract = read("../shared/CONTRACT.md");
    let readme = read("README.md");
    let mut code = String::new();
    for entry in walk("src") {
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
        "src/ never names {unimplemented:?}"
    );
}

#[test]
fn every_source_file_opens_with_a_doc_line() {
    let bare: Vec<_> = walk("src")
        .into_iter()
        .filter(|p| p != "src/main.rs" && !read(p).starts_with("//!"))
        .collect();
    assert!(bare.is_empty(), "files without a //! line: {bare:?}");
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
